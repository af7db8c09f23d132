"""What one line of a Redis config file says, and which kind of Redis file it is.

Three flavors share the format module:

* ``server``: redis.conf, read by ``loadServerConfigFromString``;
* ``sentinel``: sentinel.conf, the same reader in sentinel mode (``sentinel ...``
  lines allowed, directive names not checked here);
* ``acl``: an ACL file (``aclfile``), read by ``ACLLoadFromFile``: only
  ``user <name> <rules>`` lines split on single spaces, no quotes, no comments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from remediate.formats.redis_args import QuoteError, Token, split_acl_words, split_args
from remediate.formats.redis_directives import (
    DEPRECATED_DIRECTIVES,
    KNOWN_DIRECTIVES,
    argument_problem,
    canonical_name,
)

FLAVORS = ("server", "sentinel", "acl")
_PASSWORD_HASH = re.compile(r"[0-9a-f]{64}")
#: ``sentinel`` subcommands that are not about one monitored master
_GLOBAL_SENTINEL = frozenset(
    {
        "deny-scripts-reconfig",
        "resolve-hostnames",
        "announce-hostnames",
        "announce-ip",
        "announce-port",
        "myid",
        "current-epoch",
        "sentinel-user",
        "sentinel-pass",
    }
)
#: ``sentinel`` subcommands that may repeat for one master (one line per item)
_LISTED_SENTINEL = frozenset({"known-replica", "known-slave", "known-sentinel", "rename-command"})


class RedisLine(NamedTuple):
    """What Redis makes of one line that is neither blank nor a comment."""

    #: the line without its ending (token offsets refer to it)
    text: str
    #: directive as written
    name: str
    #: canonical lower-case directive name
    key: str
    tokens: tuple[Token, ...] = ()
    #: (0-based offset, reason) when Redis refuses this line whatever surrounds it
    problem: tuple[int, str] | None = None
    #: a deprecated directive Redis skips without a word
    ignored: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        """The value arguments (everything after the directive name)."""
        return tuple(token.value for token in self.tokens[1:])


def analyse_line(text: str, flavor: str) -> RedisLine | None:
    """Read one line of a Redis file of the given flavor; None for blank or comment."""
    stripped = text.lstrip(" \t\r\n")
    if not stripped or (stripped[0] == "#" and flavor != "acl"):
        return None
    if flavor == "acl":
        return _analyse_acl_line(text)
    try:
        tokens = tuple(split_args(text))
    except QuoteError as error:
        first = stripped.split(None, 1)[0]
        return RedisLine(text, first, canonical_name(first), (), (error.offset, error.reason))
    if not tokens:  # only a NUL byte and what follows it
        return RedisLine(text, "", "", (), (text.find("\x00"), _NUL_REASON))
    name = tokens[0].value
    key = canonical_name(name)
    line = RedisLine(text, name, key, tokens)
    problem = _line_problem(line, flavor)
    if problem is None and "\x00" in text:
        problem = (text.find("\x00"), _NUL_REASON)
    ignored = key in DEPRECATED_DIRECTIVES and problem is None
    return RedisLine(text, name, key, tokens, problem, ignored)


_NUL_REASON = "a NUL byte: Redis reads no further than it"


def _analyse_acl_line(text: str) -> RedisLine:
    tokens = tuple(split_acl_words(text))
    if tokens[0].value != "user" or len(tokens) < 2:
        reason = (
            "an ACL file holds only 'user <name> <rules>' lines; "
            "Redis refuses comments and anything else"
        )
        return RedisLine(
            text, tokens[0].value, tokens[0].value.lower(), tokens, (tokens[0].start, reason)
        )
    line = RedisLine(text, "user", "user", tokens)
    return RedisLine(text, "user", "user", tokens, _acl_rule_problem(line))


def _line_problem(line: RedisLine, flavor: str) -> tuple[int, str] | None:
    key, tokens, args = line.key, line.tokens, line.args
    if key == "sentinel":
        if args and flavor != "sentinel":
            return tokens[0].start, "a sentinel directive outside a sentinel config"
        return None
    if key in KNOWN_DIRECTIVES:
        reason = argument_problem(key, args)
        if reason is not None:
            if any(arg.startswith("#") for arg in args):
                reason += "; '#' starts a comment only at the start of a line"
            at = tokens[2].start if len(tokens) > 2 else tokens[0].end
            return at, reason
        return _acl_rule_problem(line) if key == "user" else None
    if "." in key:
        if not args:
            return tokens[0].end, f"module option {line.name} without a value"
        return None
    if flavor == "server":
        return tokens[0].start, f"unknown directive {line.name!r}: Redis refuses the file"
    return None


def _acl_rule_problem(line: RedisLine) -> tuple[int, str] | None:
    for token in line.tokens[2:]:
        if token.value.startswith("#") and not _PASSWORD_HASH.fullmatch(token.value[1:]):
            return token.start, (
                "an ACL '#' rule needs a 64-character lowercase hex password "
                "hash; '#' does not start a comment here"
            )
    return None


def entry_key(key: str, args: Sequence[str]) -> str:
    """The managed name of one line of a repeatable directive (see RedisDocument)."""
    if key == "save":
        return "save"
    if key == "sentinel":
        if not args:
            return "sentinel"
        sub = args[0].lower()
        if sub in _LISTED_SENTINEL:
            return " ".join(("sentinel", sub, *args[1:]))
        if sub in _GLOBAL_SENTINEL or len(args) < 2:
            return f"sentinel {sub}"
        return f"sentinel {sub} {args[1]}"
    if not args:
        return key
    first = args[0]
    if key == "client-output-buffer-limit":
        first = "replica" if first.lower() == "slave" else first.lower()
    elif key == "rename-command":
        first = first.lower()
    return f"{key} {first}"


_SENTINEL_LINE = re.compile(r"\n[ \t\r]*sentinel(?:[ \t]|\r?\n|\r?$)", re.IGNORECASE)
_SENTINEL_PORT = re.compile(r"\n[ \t\r]*port[ \t]+26379[ \t\r]*(?:\n|$)")
_NOT_USER_LINE = re.compile(r"\n[ \t\r]*(?!user )[^ \t\r\n]")
ANY_LINE = re.compile(r"\n[ \t\r]*[^ \t\r\n]")


def detect_flavor(text: str, path: str) -> str:
    """``acl`` for *.acl or a file of only ``user`` lines; ``sentinel`` for *sentinel*
    names, ``sentinel`` directives or ``port 26379``; otherwise ``server``."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(".acl"):
        return "acl"
    padded = "\n" + text
    if "sentinel" in base or _SENTINEL_LINE.search(padded) or _SENTINEL_PORT.search(padded):
        return "sentinel"
    if ANY_LINE.search(padded) and not _NOT_USER_LINE.search(padded):
        return "acl"
    return "server"
