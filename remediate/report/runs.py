"""Views of `remediate rollback` and `remediate runs`: runs fleet-wide, and per host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate import __version__
from remediate.model.fleet_runs import FleetRun, fleet_runs
from remediate.model.outcomes import HostOutcome, RollbackResult
from remediate.model.plans import SCHEMA, to_json
from remediate.model.runs import Manifest
from remediate.report.exit import ExitCode, exit_code

#: a host whose rollback did not bring back everything the run changed
INCOMPLETE = ("failed", "rolled back", "partial")


def rollback_exit_code(results: Sequence[RollbackResult], run_id: str | None = None) -> ExitCode:
    """1 when a host failed or was only partly rolled back, or when no host had ``run_id``."""
    unknown_run = bool(run_id) and not any(r.of_run for r in results)
    reached = any(r.status != "unreachable" for r in results)
    return exit_code(
        failed=sum(r.status in INCOMPLETE for r in results) + (unknown_run and reached),
        unreachable=sum(r.status == "unreachable" for r in results),
    )


def rollback_json(results: Sequence[RollbackResult], dry_run: bool, code: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "rollback",
        "tool": f"remediate {__version__}",
        "dry_run": dry_run,
        "of_run": next((r.of_run for r in results if r.of_run), ""),
        "run_id": next((r.run_id for r in results if r.run_id), ""),
        "hosts": to_json(results),
        "exit_code": code,
    }


def rollback_lines(
    results: Sequence[RollbackResult], dry_run: bool, run_id: str | None = None
) -> list[tuple[str, str]]:
    """Per host: what is (or would be) restored, removed, skipped and why."""
    out: list[tuple[str, str]] = []
    of_run = next((r.of_run for r in results if r.of_run), "")
    as_run = next((r.run_id for r in results if r.run_id), "")
    if of_run:
        out.append(("bold", f"rollback of run {of_run}" + (f" as run {as_run}" if as_run else "")))
    elif run_id and any(r.status != "unreachable" for r in results):
        out.append(("red", f"no selected host has run {run_id} (see `remediate runs`)"))
    restore, remove = ("would restore", "would remove") if dry_run else ("restored", "removed")
    width = max((len(r.host) for r in results), default=0)
    for r in results:
        style = {"changed": "yellow", "ok": "green"}.get(r.status, "red")
        out.append((style, f"{r.host.ljust(width)} : {r.status}"))
        if r.note:
            out.append(("", f"    {r.note}"))
        out += [("", f"    {restore} {path}") for path in r.restored]
        out += [("", f"    {remove} {path}") for path in r.removed]
        out += [("", f"    runtime {line}") for line in r.runtime]
        out += [("yellow", f"    skipped {why}") for why in r.skipped]
        if r.error:
            out.append(("red", f"    {r.error}"))
        if r.status == "partial":
            out.append(("red", "    partial: not everything the run changed was undone"))
    if dry_run:
        out.append(("bold", "dry run: nothing was changed"))
    return out


def runs_exit_code(outcomes: Sequence[HostOutcome[list[Manifest]]]) -> ExitCode:
    return exit_code(
        failed=sum(bool(x.failed) for x in outcomes),
        unreachable=sum(bool(x.unreachable) for x in outcomes),
    )


def newest_first(runs: Sequence[Manifest]) -> list[Manifest]:
    """Runs in the one order every view uses: newest first (run ids sort by their time)."""
    return sorted(runs, key=lambda m: (m.started, m.run_id), reverse=True)


def _fleet(outcomes: Sequence[HostOutcome[list[Manifest]]], run_id: str | None) -> list[FleetRun]:
    runs = fleet_runs({x.host: x.value for x in outcomes if x.value is not None})
    return [r for r in runs if not run_id or r.run_id == run_id]


def runs_json(
    outcomes: Sequence[HostOutcome[list[Manifest]]], code: int, run_id: str | None = None
) -> dict[str, Any]:
    """``runs``: the fleet's runs, newest first; ``hosts``: each host's own runs."""
    hosts = [
        {
            "host": x.host,
            "unreachable": x.unreachable,
            "failed": x.failed,
            "runs": [
                _run_json(m)
                for m in newest_first(x.value or [])
                if not run_id or m.run_id == run_id
            ],
        }
        for x in outcomes
    ]
    runs = [
        {
            "run_id": r.run_id,
            "started": r.started,
            "command": r.command,
            "kind": r.kind,
            "of_run": r.of_run,
            "changed": r.changed,
            "failed": r.failed,
            "hosts": [{"host": h, "status": s} for h, s in r.hosts],
        }
        for r in _fleet(outcomes, run_id)
    ]
    return {
        "schema": SCHEMA,
        "kind": "runs",
        "order": "newest first",
        "runs": runs,
        "hosts": hosts,
        "exit_code": code,
    }


def runs_lines(
    outcomes: Sequence[HostOutcome[list[Manifest]]], run_id: str | None = None
) -> list[tuple[str, str]]:
    """A table of the fleet's runs; with ``run_id``, that run on each host."""
    lines: list[tuple[str, str]] = []
    runs = _fleet(outcomes, run_id)
    if run_id:
        lines += _per_host(outcomes, run_id) if runs else [("red", f"no run {run_id}")]
    elif runs:
        rows = [("RUN", "STARTED", "COMMAND", "HOSTS", "CHANGED", "FAILED")] + [
            (r.run_id, r.started, r.command, str(len(r.hosts)), str(r.changed), str(r.failed))
            for r in runs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for n, row in enumerate(rows):
            text = "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            lines.append(("bold" if n == 0 else "", text))
    else:
        lines.append(("", "no runs on the selected hosts"))
    lines += [("red", f"{x.host}: {x.unreachable or x.failed}") for x in outcomes if not x.ok]
    return lines


def _per_host(
    outcomes: Sequence[HostOutcome[list[Manifest]]], run_id: str
) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    width = max((len(x.host) for x in outcomes), default=0)
    for x in outcomes:
        m = next((m for m in x.value or [] if m.run_id == run_id), None)
        if m is None:
            continue
        of = f" of {m.of_run}" if m.of_run else ""
        style = "green" if m.status == "applied" else "red"
        lines.append((style, f"{x.host.ljust(width)} : {m.kind}{of} {m.status}  {m.started}"))
        lines += [("", f"    {f.path}{' (created)' if not f.existed else ''}") for f in m.files]
        lines += [("", f"    runtime {r.setting}") for r in m.runtime]
        lines += [("", f"    handler {h.name}: {'ok' if h.ok else 'failed'}") for h in m.handlers]
        lines += [("yellow", f"    {note}") for note in m.notes]
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
