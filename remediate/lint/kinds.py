"""What kind of config a file is, from its name and its content (for ``remediate lint``).

    detect_kind("deploy/redis/6379.conf", data)        -> "redis"
    detect_kind("roles/rabbitmq/templates/rabbitmq-env.j2", data) -> "shell"

Names decide when they are specific (``requirements*.txt``, ``poetry.lock``, ``uv.lock``,
``Pipfile.lock``, ``pdm.lock``; ``redis*.conf``, ``*sentinel*.conf``, ``*.acl``,
``rabbitmq.conf``, ``conf.d/*.conf`` under a rabbitmq folder, ``limits.conf``, ``limits.d/*``,
``*.service``, ``*.service.d/*.conf``, ``/etc/default/*``, ``rabbitmq-env.conf``), after
stripping template suffixes (``.j2``, ``.erb``, ``.tpl`` ...). Otherwise the content decides:
most meaningful lines must look like one kind (redis directives, dotted ``key = value``,
limits rows, systemd sections, shell assignments; a ``[program:...]`` or ``[supervisord]``
section makes a supervisord file). Python is Celery config when it sets a
Celery setting at module level or through ``app.conf``. Pure functions, no I/O.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from itertools import islice
from pathlib import Path

TEMPLATE_SUFFIXES = (
    ".j2",
    ".jinja",
    ".jinja2",
    ".erb",
    ".tpl",
    ".tmpl",
    ".template",
    ".example",
    ".sample",
    ".dist",
)
#: extensions (after template suffixes) whose files may be config of an unnamed kind
_SNIFFED_EXTENSIONS = frozenset({"", ".conf", ".cfg", ".acl", ".default", ".config", ".ini"})
_LOCK_NAMES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock", "pdm.lock"})
_REQUIREMENTS_NAME = re.compile(r"^(.*[-_.])?requirements([-_.].*)?\.(txt|in)$")
_SUPERVISORD_SECTION = re.compile(
    r"^\[(program:[^\]]+|supervisord|supervisorctl|unix_http_server"
    r"|inet_http_server|group:[^\]]+|include)\][ \t]*$",
    re.MULTILINE,
)
_STRONG_CELERY_PREFIXES = ("broker_", "result_", "task_", "worker_", "beat_", "redis_")
_SHELL_NAME = re.compile(
    r"(^|[-_.])(rabbitmq-env(\.conf)?|(rabbitmq-server|redis-server"
    r"|redis-sentinel)[-_.]default)$"
)
_DAEMON_NAME = re.compile(r"(^|[-_.])(rabbitmq-server|redis-server|redis-sentinel)$")
_SYSTEMD_HEADER = re.compile(r"\[(Unit|Service|Install|Socket|Timer|Mount|Path|Slice)\]$")
_SYSTEMD_SETTING = re.compile(r"(^|%>)[ \t]*[A-Z][A-Za-z0-9]+[ \t]*=", re.MULTILINE)
_MEANINGFUL_LINE = re.compile(r"^[ \t]*(?![#;]|//|\{[%{#]|<%)(\S.*?)[ \t\r]*$", re.MULTILINE)
_LIMITS_ROW = re.compile(
    r"\S+\s+(soft|hard|-)\s+(nofile|nproc|core|memlock|stack|data|fsize|as"
    r"|cpu|rss|locks|sigpending|msgqueue|nice|rtprio|rttime|maxlogins"
    r"|maxsyslogins|priority)\s+\S+"
)
_WORD_LINE = re.compile(r"([A-Za-z][\w-]*)(?:\s+(?!=)|$)")
_KEY_VALUE = re.compile(r"([a-z][\w-]*(?:\.[\w-]+)*)\s*=\s*\S")
_RABBITMQ_TOP_KEYS = frozenset(
    {
        "heartbeat",
        "listeners",
        "loopback_users",
        "default_user",
        "default_pass",
        "default_vhost",
        "vm_memory_high_watermark",
        "disk_free_limit",
        "frame_max",
        "channel_max",
        "consumer_timeout",
        "cluster_name",
        "cluster_partition_handling",
        "num_acceptors",
        "collect_statistics_interval",
        "total_memory_available_override_value",
        "log",
    }
)
_SHELL_LINE = re.compile(r"(export\s+)?[A-Za-z_][A-Za-z0-9_]*=|ulimit\s")
_TOP_LEVEL_NAME = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", re.MULTILINE)


def template_stem(name: str) -> str:
    """A file name without its template/example suffixes: ``redis.conf.j2`` -> ``redis.conf``."""
    name = name.lower()
    while name.endswith(TEMPLATE_SUFFIXES):
        name = name[: name.rindex(".")]
    return name


def detect_kind(path: str, data: bytes) -> str | None:
    """The kind of a config file from its name and content, or None when it is none of ours.
    YAML and Terraform files are manifests (``helm``, ``compose``, ``kubernetes``,
    ``terraform``) when they hold settings we read: see ``remediate.lint.manifests``."""
    parts = [p.lower() for p in Path(path).parts]
    name, parent = template_stem(parts[-1]), (parts[-2] if len(parts) > 1 else "")
    if name.endswith(".py"):
        return "celery" if has_celery_settings(data) else None
    if (
        name in _LOCK_NAMES
        or _REQUIREMENTS_NAME.match(name)
        or (parent == "requirements" and name.endswith((".txt", ".in")))
    ):
        return "python-lock"
    supervisor_named = (
        "supervisor" in name
        or parent in ("supervisord.d", "supervisor")
        or (parent == "conf.d" and any("supervisor" in p for p in parts[:-2]))
    )
    if supervisor_named and _SUPERVISORD_SECTION.search(data[:65536].decode("utf-8", "replace")):
        return "supervisord"
    if parts[-1].endswith((".yaml", ".yml", ".tf")):  # manifests: Helm, Compose, k8s, Terraform
        from remediate.lint.manifests import detect_manifest

        return detect_manifest(path, data)

    def sniffed() -> str | None:
        return kind_from_content(data[:16384].decode("utf-8", "replace"))

    if name.endswith(".service") or parent.endswith(".service.d"):
        return "systemd"
    if re.search(r"(^|[-_.])limits\.conf$", name) or parent == "limits.d":
        return "systemd" if sniffed() == "systemd" else "limits"
    if (
        parent == "default"
        or _SHELL_NAME.search(name)
        or (_DAEMON_NAME.search(name) and sniffed() == "shell")
    ):
        return "shell"
    if name.endswith(".acl"):
        return "redis"
    if name.endswith(".conf") and (
        "redis" in name or "sentinel" in name or parent in ("redis", "sentinel")
    ):
        return sniffed() or "redis"
    if re.search(r"(^|[-_.])rabbitmq\.conf$", name) or (
        name.endswith(".conf") and (parent == "conf.d" and any("rabbitmq" in p for p in parts[:-2]))
    ):
        return sniffed() or "rabbitmq"
    if re.search(r"(^|[-_.])rabbitmq\.config$", name):  # sysctl style, or Erlang terms (not ours)
        first = _MEANINGFUL_LINE.search(data.decode("utf-8", "replace"))
        return None if first is None or first.group(1)[0] in "[{%" else "rabbitmq"
    if Path(name).suffix in _SNIFFED_EXTENSIONS:
        return sniffed()
    return None


def kind_from_content(text: str) -> str | None:
    """The kind most lines of ``text`` look like (its first 200 lines that are not blank, a
    comment or a template tag), or None when no kind clearly wins."""
    meaningful = [m.group(1) for m in islice(_MEANINGFUL_LINE.finditer(text), 200)]
    if not meaningful:
        return None
    if _SUPERVISORD_SECTION.search(text):
        return "supervisord"
    if any(_SYSTEMD_HEADER.match(line) for line in meaningful) and _SYSTEMD_SETTING.search(text):
        return "systemd"
    from remediate.formats.redis_directives import KNOWN_DIRECTIVES, SPECIAL_DIRECTIVES

    redis_words = KNOWN_DIRECTIVES | SPECIAL_DIRECTIVES
    counts: Counter[str] = Counter()
    redis_specific = False
    for line in meaningful:
        word, key = _WORD_LINE.match(line), _KEY_VALUE.match(line)
        if _LIMITS_ROW.match(line):
            counts["limits"] += 1
        elif word and word.group(1).lower() in redis_words:
            counts["redis"] += 1
            redis_specific = redis_specific or word.group(1).lower() != "include"
        elif key and ("." in key.group(1) or key.group(1) in _RABBITMQ_TOP_KEYS):
            counts["rabbitmq"] += 1
        elif _SHELL_LINE.match(line):
            counts["shell"] += 1
    if not counts:
        return None
    kind, count = counts.most_common(1)[0]
    if count * 2 < len(meaningful):
        return None
    if kind == "redis" and not redis_specific:
        return None
    if kind == "shell" and not re.search(r"rabbitmq|erl_|nodename|ulimit", text, re.IGNORECASE):
        return None
    return kind


def has_celery_settings(data: bytes) -> bool:
    """Whether Python source sets a Celery setting at module level (any style:
    ``broker_url``, ``BROKER_URL``, Django's ``CELERY_BROKER_URL``) or through ``app.conf``.
    Source that is not valid Python (a template) is read line by line instead."""
    text = data.decode("utf-8", "replace")
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return any(_is_celery_name(name) for name in _TOP_LEVEL_NAME.findall(text))
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If | ast.Try | ast.With):
            statements.extend(
                getattr(node, "body", [])
                + getattr(node, "orelse", [])
                + getattr(node, "finalbody", [])
            )
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if isinstance(target, ast.Name) and _is_celery_name(target.id):
                return True
            if isinstance(target, ast.Attribute | ast.Subscript) and _is_conf(target.value):
                return True
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "update"
            and _is_conf(call.func.value)
        ):
            keys = [k.arg for k in call.keywords if k.arg] + [
                k.value
                for arg in call.args
                if isinstance(arg, ast.Dict)
                for k in arg.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
            if any(_celery_canonical(key) for key in keys):
                return True
    return False


def _is_conf(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "conf"


def _celery_canonical(name: str) -> str | None:
    from remediate.formats.celery_settings import canonical

    return canonical(name)


def _is_celery_name(name: str) -> bool:
    """A Celery setting name specific enough to tell a Celery config from other Python:
    any upper-case (old or Django-namespaced) name, or a new name such as ``broker_url``."""
    canonical = _celery_canonical(name)
    if canonical is None:
        return False
    return name != name.lower() or canonical.startswith(_STRONG_CELERY_PREFIXES)


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB, as git and grep decide."""
    return b"\0" in data[:8192]


def may_be_config(name: str) -> bool:
    """Cheap test of a file name found by walking a directory, before reading the file:
    could it be one of ours? (Names that may hold any kind are sniffed afterwards.)"""
    stem = template_stem(name)
    suffix = Path(stem).suffix
    if name.lower().endswith((".yaml", ".yml", ".tf")):
        return True
    return (
        suffix in _SNIFFED_EXTENSIONS
        or suffix in (".py", ".service")
        or "limits" in stem
        or stem in _LOCK_NAMES
        or bool(_REQUIREMENTS_NAME.match(stem))
    )
