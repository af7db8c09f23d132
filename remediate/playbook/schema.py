"""Playbooks: plays with host patterns, vars, managed files and handlers.

    - name: Redis brokers keep idle connections open
      hosts: redis
      defaults: {redis_timeout: 0}     # lowest precedence (like role defaults): inventory wins
      vars: {}                         # above inventory vars, as in Ansible
      files:
        - {kind: redis, path: /etc/redis/redis.conf, template: redis.conf.j2, notify: restart redis}
        - kind: celery
          path: /srv/app/celeryconfig.py
          template: celeryconfig.py.j2
          absent:                      # settings removed wherever the file defines them
            - worker_heartbeat_interval
            - {setting: broker_heartbeat, when: "broker_scheme != 'amqp'"}  # per host
      handlers:
        restart redis: {command: systemctl restart redis-server, check: redis_ping}
      serial: 1                        # optional: batches of hosts (N, "N%", or a list)
      max_fail_percentage: 0           # optional: stop later batches past this share of failures

A file ``path`` with ``*``, ``?`` or ``[`` is a pattern (``/etc/redis/redis*.conf``): each
host's gather expands it (``playbook.targets.expand_globs``) and every match is managed as its
own file; a pattern matching nothing on a host is finding PLB001.

Every schema error is one PlaybookError naming the file and line, raised before any
host is contacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.errors import PlaybookError
from remediate.formats import KINDS, LINT_ONLY_KINDS, MANIFEST_FILE_KINDS
from remediate.playbook.yaml_lines import line_of, load_yaml

PLAY_KEYS = {
    "name",
    "hosts",
    "vars",
    "defaults",
    "files",
    "handlers",
    "serial",
    "max_fail_percentage",
}
FILE_KEYS = {
    "kind",
    "path",
    "template",
    "strategy",
    "mode",
    "live",
    "validate",
    "notify",
    "absent",
}
ABSENT_KEYS = {"setting", "when"}
#: the kinds a playbook can manage (lint also reads lock files and supervisord configs)
MANAGED_KINDS = tuple(k for k in KINDS if k not in LINT_ONLY_KINDS)
HANDLER_KEYS = {"command", "check"}
BUILTIN_CHECKS = ("redis_ping", "rabbitmq_running")
STRATEGIES = ("merge", "replace")
#: A playbook ``path`` with one of these is a shell pattern, expanded on each host (sh(1)
#: pathname expansion: ``*``, ``?``, ``[...]``); each match is managed as its own file.
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class AbsentSetting:
    """A setting the file must not have: removed wherever it is defined.

    ``when``: a Jinja expression over the template's variables (``broker_scheme``, host
    vars...), evaluated per host; the setting is removed only where it is true."""

    setting: str  # as the kind names it (celery: new or old name, or ``name['entry']``)
    when: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class FileSpec:
    """One managed file of a play."""

    kind: str
    path: str  # absolute, as on the host before remediate_root
    template: str
    strategy: str = "merge"
    mode: str | None = None  # permissions when the file is created (else kept)
    live: bool = True
    validate: str | None = None
    notify: tuple[str, ...] = ()
    line: int | None = None
    absent: tuple[AbsentSetting, ...] = ()

    @property
    def is_glob(self) -> bool:
        """Whether ``path`` is a pattern (``*``, ``?``, ``[``), expanded on each host."""
        return any(c in self.path for c in GLOB_CHARS)


@dataclass(frozen=True)
class Handler:
    name: str
    command: str
    check: str | None = None  # redis_ping | rabbitmq_running | a shell command


@dataclass(frozen=True)
class Play:
    name: str
    hosts: str
    vars: dict[str, Any]
    defaults: dict[str, Any]
    files: tuple[FileSpec, ...]
    handlers: dict[str, Handler]
    line: int | None = None
    #: batch sizes as Ansible's ``serial:`` (N or "N%"; a list: one per batch, the last repeats)
    serial: tuple[str, ...] = ()
    max_fail_percentage: float | None = None


@dataclass(frozen=True)
class Playbook:
    path: str
    plays: tuple[Play, ...]


def load_playbook(path: Path | str) -> Playbook:
    path = Path(path)
    if not path.exists():
        raise PlaybookError("no such playbook (use -p PATH)", path=str(path))
    data = load_yaml(path, PlaybookError)
    where = str(path)
    if not isinstance(data, list) or not data:
        raise PlaybookError("a playbook is a non-empty list of plays", path=where, line=1)
    return Playbook(where, tuple(_play(item, where) for item in data))


def _play(item: Any, where: str) -> Play:
    if not isinstance(item, dict):
        raise PlaybookError("each play is a mapping", path=where, line=line_of(item))
    _known_keys(item, PLAY_KEYS, "play", where)
    name = str(item.get("name") or item.get("hosts") or "play")
    hosts = item.get("hosts")
    if not isinstance(hosts, str) or not hosts.strip():
        raise PlaybookError(
            f"play {name!r} needs `hosts:` (a host pattern)",
            path=where,
            line=line_of(item, "hosts"),
        )
    variables = _mapping(item, "vars", where)
    defaults = _mapping(item, "defaults", where)
    handlers = _handlers(item, where)
    files_raw = item.get("files") or []
    if not isinstance(files_raw, list):
        raise PlaybookError("`files:` is a list", path=where, line=line_of(item, "files"))
    files = tuple(_file(raw, handlers, where) for raw in files_raw)
    paths = [f.path for f in files]
    for spec in files:
        if paths.count(spec.path) > 1:
            raise PlaybookError(
                f"{spec.path} is managed twice in play {name!r}", path=where, line=spec.line
            )
    return Play(
        name,
        hosts.strip(),
        dict(variables),
        dict(defaults),
        files,
        handlers,
        line_of(item),
        _serial(item, where),
        _max_fail(item, where),
    )


def _serial(item: dict[str, Any], where: str) -> tuple[str, ...]:
    """``serial: 1``, ``serial: "30%"`` or ``serial: [1, 5, "50%"]`` as texts."""
    raw = item.get("serial")
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for value in values:
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"[1-9]\d*%?", text):
            raise PlaybookError(
                f"`serial:` {value!r} is not a positive number of hosts or a percentage "
                'such as 1, 5 or "25%"',
                path=where,
                line=line_of(item, "serial"),
            )
        out.append(text)
    if not out:
        raise PlaybookError("`serial:` is an empty list", path=where, line=line_of(item, "serial"))
    return tuple(out)


def _max_fail(item: dict[str, Any], where: str) -> float | None:
    raw = item.get("max_fail_percentage")
    if raw is None:
        return None
    try:
        value = float(str(raw).strip().rstrip("%"))
    except ValueError:
        value = -1.0
    if isinstance(raw, bool) or not 0 <= value <= 100:
        raise PlaybookError(
            f"`max_fail_percentage:` {raw!r} is not a percentage from 0 to 100",
            path=where,
            line=line_of(item, "max_fail_percentage"),
        )
    return value


def _file(raw: Any, handlers: dict[str, Handler], where: str) -> FileSpec:
    if not isinstance(raw, dict):
        raise PlaybookError("each entry of `files:` is a mapping", path=where, line=line_of(raw))
    _known_keys(raw, FILE_KEYS, "file", where)
    line = line_of(raw)
    for key in ("kind", "path", "template"):
        if not raw.get(key):
            raise PlaybookError(f"a file entry needs `{key}:`", path=where, line=line)
    kind = str(raw["kind"])
    if kind not in MANAGED_KINDS:
        read_only = kind in KINDS  # lint reads them; the planner does not write them
        raise PlaybookError(
            f"{'kind ' + repr(kind) + ' is read by lint only' if read_only else 'unknown kind ' + repr(kind)}"
            f"; a playbook manages one of {', '.join(MANAGED_KINDS)}",
            path=where,
            line=line_of(raw, "kind"),
        )
    path = str(raw["path"])
    if not path.startswith("/") or "\0" in path or "/../" in path + "/":
        raise PlaybookError(
            f"path {path!r} must be absolute and normalised", path=where, line=line_of(raw, "path")
        )
    strategy = str(raw.get("strategy", "merge"))
    if strategy not in STRATEGIES:
        raise PlaybookError(
            f"unknown strategy {strategy!r} (merge or replace)",
            path=where,
            line=line_of(raw, "strategy"),
        )
    mode = raw.get("mode")
    if mode is not None:
        mode = str(mode) if not isinstance(mode, int) else format(mode, "o")
        if not re.fullmatch(r"0?[0-7]{3,4}", mode):
            raise PlaybookError(
                f'mode {mode!r} is not an octal mode such as "0644"',
                path=where,
                line=line_of(raw, "mode"),
            )
        mode = mode.rjust(4, "0")
    notify_raw = raw.get("notify") or []
    notify = (notify_raw,) if isinstance(notify_raw, str) else tuple(str(n) for n in notify_raw)
    for name in notify:
        if name not in handlers:
            raise PlaybookError(
                f"notify {name!r}: no such handler in this play",
                path=where,
                line=line_of(raw, "notify"),
            )
    live = raw.get("live", True)
    if not isinstance(live, bool):
        raise PlaybookError("`live:` is true or false", path=where, line=line_of(raw, "live"))
    validate = raw.get("validate")
    if validate is not None and (not isinstance(validate, str) or "%s" not in validate):
        raise PlaybookError(
            "`validate:` is a command with %s for the candidate file",
            path=where,
            line=line_of(raw, "validate"),
        )
    if strategy == "replace" and kind in MANIFEST_FILE_KINDS:
        raise PlaybookError(
            f"kind {kind} merges settings into the manifest: strategy replace would make the "
            "template the whole file",
            path=where,
            line=line_of(raw, "strategy"),
        )
    absent = _absent(raw, where)
    return FileSpec(
        kind, path, str(raw["template"]), strategy, mode, live, validate, notify, line, absent
    )


def _absent(raw: dict[str, Any], where: str) -> tuple[AbsentSetting, ...]:
    """``absent: [name, {setting: name, when: EXPR}, ...]``; a ``when`` must be a valid
    Jinja expression (checked here; its variables are checked when hosts are prepared)."""
    import jinja2

    items = raw.get("absent") or []
    line = line_of(raw, "absent")
    if not isinstance(items, list):
        raise PlaybookError(
            "`absent:` is a list of settings (a name, or {setting: NAME, when: EXPR})",
            path=where,
            line=line,
        )
    out = []
    for item in items:
        if isinstance(item, dict):
            _known_keys(item, ABSENT_KEYS, "absent", where)
            setting, when, at = item.get("setting"), item.get("when"), line_of(item) or line
        else:
            setting, when, at = item, None, line
        if not isinstance(setting, str) or not setting.strip():
            raise PlaybookError(
                f"`absent:` entry {setting!r} is not a setting name", path=where, line=at
            )
        if when is not None:
            if not isinstance(when, str | bool) or (isinstance(when, str) and not when.strip()):
                raise PlaybookError(
                    "`when:` is a Jinja expression such as \"broker_scheme == 'redis'\"",
                    path=where,
                    line=at,
                )
            when = str(when)
            try:
                jinja2.Environment().parse("{{ (" + when + ") }}")
            except jinja2.TemplateSyntaxError as exc:
                raise PlaybookError(
                    f"`when: {when}` is not a Jinja expression: {exc.message}",
                    path=where,
                    line=at,
                ) from None
        out.append(AbsentSetting(setting.strip(), when, at))
    names = [a.setting for a in out]
    for a in out:
        if names.count(a.setting) > 1:
            raise PlaybookError(f"`absent:` lists {a.setting} twice", path=where, line=a.line)
    return tuple(out)


def _handlers(item: dict[str, Any], where: str) -> dict[str, Handler]:
    raw = _mapping(item, "handlers", where)
    handlers = {}
    for name, spec in raw.items():
        line = line_of(raw, name)
        if isinstance(spec, str):
            spec = {"command": spec}
        if not isinstance(spec, dict):
            raise PlaybookError(
                f"handler {name!r} is a mapping with `command:`", path=where, line=line
            )
        _known_keys(spec, HANDLER_KEYS, "handler", where)
        if not spec.get("command"):
            raise PlaybookError(f"handler {name!r} needs `command:`", path=where, line=line)
        check = spec.get("check")
        handlers[str(name)] = Handler(
            str(name), str(spec["command"]), str(check) if check else None
        )
    return handlers


def _mapping(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise PlaybookError(f"`{key}:` is a mapping", path=where, line=line_of(item, key))
    return value


def _known_keys(item: dict[str, Any], allowed: set[str], what: str, where: str) -> None:
    for key in item:
        if key not in allowed:
            raise PlaybookError(
                f"unknown {what} key {key!r}; expected one of {', '.join(sorted(allowed))}",
                path=where,
                line=line_of(item, str(key)),
            )
