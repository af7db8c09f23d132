"""Prometheus textfile-collector metrics of an audit report (pure: report in, text out)."""

from __future__ import annotations

from collections import Counter
from typing import Any

_HELP = {
    "remediate_host_reachable": (
        "gauge",
        "1 if remediate could reach and plan the host, 0 if not.",
    ),
    "remediate_host_failed": ("gauge", "1 if planning the host failed (bad file, template, ...)."),
    "remediate_drift": ("gauge", "1 if the managed file differs from its desired state."),
    "remediate_runtime_drift": (
        "gauge",
        "1 if a running server's value differs from the desired value.",
    ),
    "remediate_runtime_read": (
        "gauge",
        (
            "1 if the live state of a component was read back, 0 if not running "
            "or unknown (see the report for the reason)."
        ),
    ),
    "remediate_findings": ("gauge", "Unsuppressed findings per host, rule and severity."),
    "remediate_hosts": ("gauge", "Hosts audited, by status."),
    "remediate_audit_timestamp_seconds": ("gauge", "When the audit ran (Unix time)."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render_metrics(report: dict[str, Any]) -> str:
    """The text exposition format node_exporter's textfile collector reads (sorted, stable)."""
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    statuses: Counter[str] = Counter()
    for host in sorted(report["hosts"], key=lambda h: h["host"]):
        name = host["host"]
        statuses[host["status"]] += 1
        samples["remediate_host_reachable"].append(
            f"{_labels(host=name)} {0 if host['unreachable'] else 1}"
        )
        samples["remediate_host_failed"].append(
            f"{_labels(host=name)} {1 if host['failed'] else 0}"
        )
        for f in sorted(host["files"], key=lambda f: f["path"]):
            changed = f.get("changed", f["sha256_before"] != f["sha256_after"])
            samples["remediate_drift"].append(
                f"{_labels(host=name, file=f['path'], kind=f['kind'])} {int(changed)}"
            )
        drifted = {r["setting"] for r in host["runtime_changes"]}
        for setting in sorted(drifted):
            samples["remediate_runtime_drift"].append(f"{_labels(host=name, setting=setting)} 1")
        facts = host.get("facts") or {}
        for component in ("redis", "rabbitmq"):
            if isinstance(facts.get(component), dict) and "state" in facts[component]:
                read = int(
                    facts[component]["state"] == "read"
                    and not any(
                        str(i.get("state")) != "read"
                        for i in facts[component].get("instances", {}).values()
                    )
                )
                samples["remediate_runtime_read"].append(
                    f"{_labels(host=name, component=component)} {read}"
                )
        counts = Counter(
            (x["rule"], x["severity"]) for x in host.get("findings", []) if not x.get("suppressed")
        )
        for (rule, severity), count in sorted(counts.items()):
            samples["remediate_findings"].append(
                f"{_labels(host=name, rule=rule, severity=severity)} {count}"
            )
    for status in ("changed", "ok", "unreachable", "failed"):
        samples["remediate_hosts"].append(f"{_labels(status=status)} {statuses.get(status, 0)}")
    samples["remediate_audit_timestamp_seconds"].append(f" {int(report.get('timestamp', 0))}")
    lines = []
    for metric, (kind, text) in _HELP.items():
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} {kind}")
        lines += [f"{metric}{sample}" for sample in samples[metric]]
    return "\n".join(lines) + "\n"
