"""Views of `remediate rollback` and `remediate runs`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate import __version__
from remediate.model.outcomes import HostOutcome, RollbackResult
from remediate.model.plans import SCHEMA, to_json
from remediate.model.runs import Manifest
from remediate.report.exit import ExitCode, exit_code
from remediate.report.words import plural


def rollback_exit_code(results: Sequence[RollbackResult]) -> ExitCode:
    return exit_code(
        failed=sum(r.status in ("failed", "rolled back") for r in results),
        unreachable=sum(r.status == "unreachable" for r in results),
    )


def rollback_json(results: Sequence[RollbackResult], dry_run: bool, code: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "rollback",
        "tool": f"remediate {__version__}",
        "dry_run": dry_run,
        "hosts": to_json(results),
        "exit_code": code,
    }


def rollback_lines(results: Sequence[RollbackResult], dry_run: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    verb = "would restore" if dry_run else "restored"
    for r in results:
        head = f"{r.host}: {r.status}"
        if r.of_run:
            head += f"  (undoing run {r.of_run}{', as run ' + r.run_id if r.run_id else ''})"
        out.append(({"changed": "yellow", "ok": "green"}.get(r.status, "red"), head))
        out += [("", f"    {verb} {path}") for path in r.restored]
        out += [("", f"    runtime {line}") for line in r.runtime]
        out += [("yellow", f"    skipped {why}") for why in r.skipped]
        if r.error:
            out.append(("red", f"    {r.error}"))
    if dry_run:
        out.append(("bold", "dry run: nothing was changed"))
    return out


def runs_exit_code(outcomes: Sequence[HostOutcome[list[Manifest]]]) -> ExitCode:
    return exit_code(
        failed=sum(bool(x.failed) for x in outcomes),
        unreachable=sum(bool(x.unreachable) for x in outcomes),
    )


def runs_json(outcomes: Sequence[HostOutcome[list[Manifest]]], code: int) -> dict[str, Any]:
    hosts = [
        {
            "host": x.host,
            "unreachable": x.unreachable,
            "failed": x.failed,
            "runs": [_run_json(m) for m in (x.value or [])],
        }
        for x in outcomes
    ]
    return {"schema": SCHEMA, "kind": "runs", "hosts": hosts, "exit_code": code}


def runs_lines(outcomes: Sequence[HostOutcome[list[Manifest]]]) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for x in outcomes:
        if not x.ok:
            lines.append(("red", f"{x.host}: {x.unreachable or x.failed}"))
            continue
        lines.append(("bold", f"{x.host}: {plural(len(x.value or []), 'run')}"))
        for m in reversed(x.value or []):
            of = f" of {m.of_run}" if m.of_run else ""
            files = ", ".join(f.path for f in m.files)
            lines.append(("", f"    {m.run_id}  {m.started}  {m.kind}{of}  {m.status}  {files}"))
    return lines


def _run_json(m: Manifest) -> dict[str, Any]:
    return {
        "run_id": m.run_id,
        "kind": m.kind,
        "status": m.status,
        "started": m.started,
        "finished": m.finished,
        "of_run": m.of_run,
        "files": [f.path for f in m.files],
        "runtime": [r.setting for r in m.runtime],
        "handlers": [h.name for h in m.handlers],
        "notes": list(m.notes),
    }
