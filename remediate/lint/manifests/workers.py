"""What a manifest says about worker and server containers, whatever the manifest kind:

* a health check or liveness probe that runs ``celery inspect ping`` (MNF001);
* a ``redis-server`` command line (``redis-server --timeout 300``), read as the redis.conf
  lines Redis makes of it: every ``--name`` starts a line, the words after it are its
  arguments; a first argument that is not an option is the config file (``src/server.c``
  ``main``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from remediate.lint.manifests.embedded import EmbeddedBuilder
from remediate.model.plans import Finding
from remediate.rules.base import RuleInfo, finding

MNF001 = RuleInfo(
    "MNF001",
    "celery",
    "warning",
    "worker health check runs celery inspect ping",
    "celery inspect ping is a broadcast through the broker: while the broker is away every "
    "worker fails it, so the orchestrator restarts healthy workers in the middle of a broker "
    "outage (and they come back into the same outage), while a worker wedged after a "
    "reconnect (consumer lost, half-open connection) still answers ping and passes. It also "
    "loads the broker with one broadcast and one reply queue per worker per probe.",
    "check the worker process itself (a liveness file touched from a worker signal, or no "
    "liveness probe), and alert on queue depth and task throughput instead",
)
RULE_INFOS = (MNF001,)

#: a command that pings Celery workers: ``celery ... inspect ping`` (with any options between)
_INSPECT_PING = re.compile(r"(^|[\s/'\"])celery\b.*\binspect\b.*\bping\b", re.DOTALL)


def probe_command_text(command: str | Sequence[str]) -> str:
    """A health-check command as one string: ``["CMD", "celery", ...]`` or a shell string."""
    if isinstance(command, str):
        return command
    words = list(command)
    if words and words[0] in ("CMD", "CMD-SHELL", "NONE"):
        words = words[1:]
    return " ".join(words)


def inspect_ping_probe(
    command: str | Sequence[str], path: str, line: int, column: int, what: str
) -> list[Finding]:
    """MNF001 when ``command`` runs ``celery inspect ping``."""
    text = probe_command_text(command)
    if not _INSPECT_PING.search(text):
        return []
    return [
        finding(
            MNF001,
            path,
            line,
            f"{what} runs `{' '.join(text.split())}`: a broker outage fails it on every "
            "worker (healthy ones are restarted) and a wedged worker still passes it",
            column=column,
        )
    ]


def split_command(command: str | Sequence[str]) -> list[str] | None:
    """A command as argv: a list as it is, a string split like a shell (None if it cannot)."""
    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError:
            return None
    return [str(word) for word in command]


def is_redis_server(argv: Sequence[str]) -> bool:
    return bool(argv) and argv[0].rsplit("/", 1)[-1] in ("redis-server", "redis-sentinel")


def redis_server_lines(
    argv: Sequence[str], positions: Sequence[tuple[int, int]], builder: EmbeddedBuilder
) -> None:
    """Add the config lines of a ``redis-server`` command to ``builder``. ``positions[i]`` is
    the manifest (line, column) of ``argv[i]``. Argument values are re-quoted for redis.conf
    (a value with a blank was one word on the command line)."""
    from remediate.formats.redis_args import quote_arg

    i = 1
    if len(argv) > 1 and not argv[1].startswith("-"):
        i = 2  # the config file: its own document, not seen here
    words: list[str] = []
    at: tuple[int, int] | None = None
    for word, where in zip(argv[i:], positions[i:], strict=False):
        if word.startswith("--") and len(word) > 2:
            if at is not None:
                builder.add(" ".join(words), *at)
            words, at = [word[2:]], where
        elif at is not None:
            words.append(quote_arg(word))
    if at is not None:
        builder.add(" ".join(words), *at)
