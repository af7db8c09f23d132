"""Views of an apply: the per-host recap for people and the versioned JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate import __version__
from remediate.model.outcomes import HostApplyResult
from remediate.model.plans import SCHEMA, to_json
from remediate.report.exit import ExitCode, exit_code
from remediate.report.words import plural

STATUSES = ("changed", "pending restart", "ok", "failed", "rolled back", "unreachable", "skipped")


def apply_exit_code(results: Sequence[HostApplyResult]) -> ExitCode:
    return exit_code(
        failed=sum(r.status in ("failed", "rolled back", "skipped") for r in results),
        unreachable=sum(r.status == "unreachable" for r in results),
    )


def apply_lines(results: Sequence[HostApplyResult]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "")]
    width = max((len(r.host) for r in results), default=0)
    style = {"changed": "yellow", "ok": "green", "pending restart": "yellow"}
    for r in results:
        run = f"  run {r.run_id}" if r.run_id else ""
        out.append((style.get(r.status, "red"), f"{r.host.ljust(width)} : {r.status}{run}"))
        for message in r.messages:
            out.append(("yellow", f"    {message}"))
        if r.error:
            out.append(("red", f"    {r.error}"))
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    out.append(("bold", plural(len(results), "host") + (f": {parts}" if parts else "")))
    return out


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
        "schema": SCHEMA,
        "kind": "apply",
        "tool": f"remediate {__version__}",
        "hosts": hosts,
        "recap": recap,
        "exit_code": code,
    }
