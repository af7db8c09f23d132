"""SYS002: a Celery worker whose supervisor does not restart it on every exit.

A worker whose reconnect retries run out exits, sometimes with status 0, and only its
supervisor brings it back:

* systemd: ``Restart=always``; ``on-failure`` (and ``on-abnormal``, ``on-abort``,
  ``on-watchdog``) skip a clean exit, ``no`` (the default) never restarts. Judged over a unit
  whose ExecStart runs ``celery ... worker`` together with its drop-ins (``<unit>.d/*.conf``,
  in name order; the last ``Restart=`` wins), so it runs with the files of one host or lint
  group (``check_together``).
* supervisord: ``autorestart=true`` (or yes/on/1); the default ``unexpected`` restarts only on
  an exit code not in ``exitcodes`` (default 0), so a status-0 exit stays down; ``false`` never
  restarts. Judged per ``[program:...]`` section whose ``command`` runs ``celery ... worker``
  (``supervisor/datatypes.py`` ``auto_restart``, ``supervisor/options.py``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding, first_column, line_text

_CELERY_WORKER = re.compile(r"(?:^|[\s/=\"'])celery(?:\s+|\s[^;&|]*?\s)worker(?=$|[\s\"';&|])")
_TRUTHY = frozenset({"yes", "true", "on", "1"})

SYS002 = RuleInfo(
    "SYS002",
    "systemd",
    "warning",
    "a Celery worker that is not restarted on every exit",
    'When a worker\'s broker reconnect retries run out it exits ("Unrecoverable error"), '
    "sometimes with status 0, and only its supervisor brings it back. systemd restarts on "
    "every exit only with Restart=always (on-failure skips status 0, no never restarts); "
    "supervisord only with autorestart=true (its default 'unexpected' with exitcodes=0 leaves "
    "a status-0 exit down).",
    "Restart=always (with RestartSec=5) in the unit or a drop-in; autorestart=true in the "
    "supervisord program",
)
RULE_INFOS = (SYS002,)


def runs_celery_worker(command: str) -> bool:
    """Whether a command line starts a Celery worker (``celery -A proj worker``, ``python -m
    celery worker``, ``bash -c '... celery worker ...'``), not beat, flower or multi."""
    return bool(_CELERY_WORKER.search(command))


def _column(doc: Any, line: int | None) -> int | None:
    return first_column(line_text(doc, line)) if line else None


def _unit_name(path: str) -> str:
    return posixpath.basename(path.replace("\\", "/"))


def _drop_in_of(doc: Document) -> str | None:
    """``celery.service`` for ``.../celery.service.d/restart.conf``."""
    parent = posixpath.basename(posixpath.dirname(doc.path.replace("\\", "/")))
    return parent[:-2] if parent.endswith(".d") else None


def worker_units_without_restart(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    systemd = [doc for doc in docs if doc.kind == "systemd"]
    findings = []
    for unit in systemd:
        if _drop_in_of(unit) is not None:
            continue
        commands = unit.values("Service", "ExecStart")  # type: ignore[attr-defined]
        if not any(runs_celery_worker(command) for command in commands):
            continue
        name = _unit_name(unit.path)
        drop_ins = [doc for doc in systemd if _drop_in_of(doc) == name]
        found = _unit_without_restart(unit, drop_ins, name, "the Celery worker")
        findings += [found] if found else []
    return findings


def _unit_without_restart(
    unit: Document, drop_ins: Sequence[Document], name: str, who: str
) -> Finding | None:
    """SYS002 for a unit read with its drop-ins (in file-name order; the last Restart= wins)."""
    value, source = None, unit
    for doc in [unit, *sorted(drop_ins, key=lambda doc: _unit_name(doc.path))]:
        written = doc.values("Service", "Restart")  # type: ignore[attr-defined]
        if written:
            value, source = written[-1].strip() or None, doc
    if value == "always":
        return None
    if value is None:
        line = unit.line_of("Service.ExecStart") or unit.line_of("Service")
        message = (
            f"{name} runs {who} without Restart= (systemd's default no): "
            "a worker that exits after its reconnect retries stays down"
        )
        return finding(SYS002, unit.path, line, message, column=_column(unit, line))
    line = source.line_of("Service.Restart")
    why = (
        "never restarts it"
        if value == "no"
        else "does not restart it after a clean exit (status 0)"
    )
    return finding(
        SYS002,
        source.path,
        line,
        f"Restart={value} for {who} of {name} {why}: a worker that exits after "
        "its reconnect retries may stay down",
        "Restart=always",
        column=_column(source, line),
    )


def running_workers_without_restart(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    """SYS002 for the units and supervisord programs that run the host's running workers
    (``Facts.workers``: the unit from the worker's cgroup, its file and drop-ins as read from
    the host; the program from SUPERVISOR_PROCESS_NAME, its ``autorestart`` from supervisord's
    config as read from the host). A file among ``docs`` (managed files) is judged there
    instead."""
    from remediate.errors import ParseError
    from remediate.formats import parse

    managed = {doc.path for doc in docs}
    findings: list[Finding] = []
    judged: set[str] = set()
    judged_programs: set[tuple[str, str]] = set()
    for worker in facts.workers or ():
        supervisor = worker.supervisor
        if supervisor.kind == "supervisord" and supervisor.files:
            path, data = supervisor.files[0]
            if path in managed or (path, supervisor.name) in judged_programs:
                continue
            judged_programs.add((path, supervisor.name))
            try:
                doc = parse("supervisord", data, path)
            except ParseError:
                continue
            findings += programs_without_autorestart(doc, only=f"program:{supervisor.name}")
            continue
        if supervisor.kind != "systemd" or not supervisor.files:
            continue
        unit_path = supervisor.files[0][0]
        if unit_path in managed or unit_path in judged:
            continue
        judged.add(unit_path)
        try:
            unit, *drop_ins = [parse("systemd", data, path) for path, data in supervisor.files]
        except ParseError:
            continue  # SYS001 speaks about a unit line systemd ignores, where it is managed
        found = _unit_without_restart(
            unit, drop_ins, supervisor.name, f"the running Celery worker (pid {worker.pid})"
        )
        findings += [found] if found else []
    return findings


def _exit_codes(value: str | None) -> set[str]:
    return {code.strip() for code in (value or "0").split(",") if code.strip()}


def programs_without_autorestart(doc: Any, only: str | None = None) -> list[Finding]:
    """SYS002 per ``[program:...]`` running a Celery worker; ``only``: that section alone
    (the program of a running worker, whatever its command line looks like)."""
    settings = doc.settings()
    findings = []
    for section in doc.sections():
        if not section.startswith("program:") or only is not None and section != only:
            continue
        command = settings.get(f"{section}.command", "")
        if only is None and not runs_celery_worker(command.replace("\n", " ")):
            continue
        value = settings.get(f"{section}.autorestart")
        shown = (value or "").strip().lower()
        if shown in _TRUTHY:
            continue
        if shown in ("", "unexpected"):
            if "0" not in _exit_codes(settings.get(f"{section}.exitcodes")):
                continue  # status 0 is unexpected here: it is restarted
            why = (
                f"autorestart {'unset (default unexpected)' if not shown else 'unexpected'} "
                "with exitcodes 0: a worker that exits with status 0 stays down"
            )
        else:
            why = f"autorestart={value}: the worker is never restarted"
        line = doc.line_of(f"{section}.autorestart") or doc.line_of(section)
        findings.append(
            finding(
                SYS002,
                doc.path,
                line,
                f"[{section}] runs a Celery worker; {why}",
                f"autorestart=true in [{section}]",
                column=_column(doc, line),
            )
        )
    return findings


def check_supervisord(doc: Document, facts: Facts) -> list[Finding]:
    return programs_without_autorestart(doc)
