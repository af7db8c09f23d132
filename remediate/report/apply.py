"""Views of an apply: the per-host recap for people and the versioned JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate import __version__
from remediate.model.outcomes import HostApplyResult
from remediate.model.plans import SCHEMA, to_json
from remediate.model.runs import HandlerResult
from remediate.report.exit import ExitCode, exit_code
from remediate.report.plans import plan_text
from remediate.report.words import plural

STATUSES = ("changed", "pending restart", "ok", "failed", "rolled back", "unreachable", "skipped")


def apply_text(results: Sequence[HostApplyResult]) -> list[tuple[str, str]]:
    """What a person reads after an apply: per host what changed and the findings still
    open on the files as written (or as found), then the recap and the totals line."""
    out: list[tuple[str, str]] = []
    for r in results:
        if r.plan is None or r.status == "unreachable":
            continue
        title = "findings" if r.findings_of in ("", "files as found") else "findings after apply"
        if r.findings_of.startswith("files as found before"):
            title = f"findings ({r.findings_of})"
        out += plan_text([r.plan], summary=True, recap=False, findings_title=title)
    return out + apply_lines(results)


def apply_exit_code(results: Sequence[HostApplyResult]) -> ExitCode:
    return exit_code(
        failed=sum(r.status in ("failed", "rolled back", "skipped") for r in results),
        unreachable=sum(r.status == "unreachable" for r in results),
    )


def apply_lines(results: Sequence[HostApplyResult]) -> list[tuple[str, str]]:
    """Per host: its status, the handlers that ran and their checks, messages; then the
    fleet's count of statuses and the totals line (``Applied: ...``)."""
    out: list[tuple[str, str]] = [("", "")]
    width = max((len(r.host) for r in results), default=0)
    style = {"changed": "yellow", "ok": "green", "pending restart": "yellow"}
    for r in results:
        run = f"  run {r.run_id}" if r.run_id else ""
        out.append((style.get(r.status, "red"), f"{r.host.ljust(width)} : {r.status}{run}"))
        for h in r.handlers:
            out.append(("green" if h.ok else "red", f"    {handler_line(h)}"))
        for message in r.messages:
            out.append(("yellow", f"    {message}"))
        if r.error:
            out.append(("red", f"    {r.error}"))
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    out.append(("bold", plural(len(results), "host") + (f": {summary}" if summary else "")))
    out.append(("bold", applied_totals(results)))
    return out


def handler_line(h: HandlerResult) -> str:
    """``handler 'restart redis' (systemctl restart redis-server): ok, check redis_ping passed``
    or ``...: failed: <the last line of its output>`` (the command's or its check's)."""
    head = f"handler {h.name!r} ({h.command})"
    if h.ok:
        return f"{head}: ok" + (f", check {h.check} passed" if h.check else "")
    lines = h.output.strip().splitlines()
    return f"{head}: failed" + (f": {lines[-1]}" if lines else "")


def applied_totals(results: Sequence[HostApplyResult]) -> str:
    """``Applied: 3 files changed, 1 created, 2 live settings, 1 restart`` over the hosts
    whose changes stayed (changed, pending restart); live settings of a pending host were
    not set, and restarts are the handlers that ran and passed their checks."""
    done = [r for r in results if r.status in ("changed", "pending restart") and r.plan]
    files = [f for r in done if r.plan for f in r.plan.files if f.changed]
    live = sum(len(r.plan.runtime_changes) for r in done if r.plan and r.status == "changed")
    restarts = sum(h.ok for r in done for h in r.handlers)
    return (
        f"Applied: {plural(sum(f.exists for f in files), 'file')} changed, "
        f"{sum(not f.exists for f in files)} created, {plural(live, 'live setting')}, "
        f"{plural(restarts, 'restart')}"
    )


def recap_key(status: str) -> str:
    """A status as a JSON key: ``rolled back`` -> ``rolled_back``."""
    return status.replace(" ", "_")


def apply_json(results: Sequence[HostApplyResult], code: int) -> dict[str, Any]:
    hosts = []
    for r in results:
        data = to_json(r)
        if r.plan is not None:
            data["plan"]["status"] = r.plan.status
        hosts.append(data)
    recap = {recap_key(s): sum(r.status == s for r in results) for s in STATUSES}
    return {
        "totals": applied_totals(results),
        "schema": SCHEMA,
        "kind": "apply",
        "tool": f"remediate {__version__}",
        "hosts": hosts,
        "recap": recap,
        "exit_code": code,
    }
