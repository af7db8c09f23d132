"""The view of `remediate audit`: nothing when the fleet is clean, a line per host otherwise."""

from __future__ import annotations

from typing import Any

from remediate.report.words import plural


def audit_summary(doc: dict[str, Any]) -> str:
    """Nothing for a clean fleet; one line per host that needs attention, then a total."""
    if doc["exit_code"] == 0:
        return ""
    lines = []
    for host in doc["hosts"]:
        findings = [
            f
            for f in host["findings"]
            if not f["suppressed"] and f["severity"] in ("warning", "error")
        ]
        if host["status"] in ("unreachable", "failed"):
            lines.append(
                f"{host['host']}: {host['status']}: {host['unreachable'] or host['failed']}"
            )
        elif host["status"] == "changed" or findings:
            drifted = [f["path"] for f in host["files"] if f["changed"]]
            live = [r["setting"] for r in host["runtime_changes"]]
            parts = (
                ([f"drift in {', '.join(drifted)}"] if drifted else [])
                + ([f"live {', '.join(live)}"] if live else [])
                + (
                    [
                        plural(len(findings), "finding")
                        + f" ({', '.join(sorted({f['rule'] for f in findings}))})"
                    ]
                    if findings
                    else []
                )
            )
            lines.append(f"{host['host']}: {'; '.join(parts)}")
    recap = doc["recap"]
    lines.append(
        f"{plural(recap['hosts'], 'host')}: {recap['changed']} drifted, "
        f"{recap['unreachable']} unreachable, {recap['failed']} failed, "
        f"{plural(recap['findings'], 'finding')}"
    )
    return "\n".join(lines)
