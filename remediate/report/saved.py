"""The view of ``apply --plan X --dry-run``: after X's own plan, whether each host still
matches it (``apply --plan X`` refuses a host whose files changed since X was made)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from remediate.model.plans import HostPlan
from remediate.report.words import plural


def saved_plan_lines(saved: Sequence[HostPlan], stale: Mapping[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "")]
    width = max((len(p.host) for p in saved), default=0)
    for plan in saved:
        if plan.host in stale:
            out.append(("red", f"{plan.host.ljust(width)} : would be refused: {stale[plan.host]}"))
        elif plan.changed:
            out.append(("yellow", f"{plan.host.ljust(width)} : the saved plan still applies"))
        else:
            out.append(("green", f"{plan.host.ljust(width)} : nothing to change in the saved plan"))
    if stale:
        out.append(("bold red", f"{plural(len(stale), 'host')} of {len(saved)} would be refused"))
    return out
