"""Prometheus textfile-collector metrics of an audit report (pure: report in, text out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

#: Rule kinds every reached host is judged by whatever files it has.
HOST_KINDS = ("cross", "host")

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
    "remediate_audit_success": (
        "gauge",
        "1 if every selected host was reached and planned (drift or not), 0 if not.",
    ),
    "remediate_audit_duration_seconds": ("gauge", "How long the audit took, in seconds."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render_metrics(
    report: dict[str, Any], rules: Mapping[str, tuple[str, str]] | None = None
) -> str:
    """The text exposition format node_exporter's textfile collector reads (sorted, stable).

    Fixed things go to 0 instead of vanishing: ``remediate_runtime_drift`` has a series for
    every live setting read on a host, ``remediate_findings`` one for every rule of ``rules``
    (id -> (kind, default severity)) whose kind the host's files have (and the cross and host
    rules), at its default severity and at any severity the report shows for it. Hosts not
    reached or not planned get none of them: their state is not known."""
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    statuses: Counter[str] = Counter()
    severities_seen: dict[str, set[str]] = {}
    for host in report["hosts"]:
        for x in host.get("findings", []):
            severities_seen.setdefault(x["rule"], set()).add(x["severity"])
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
        facts = host.get("facts") or {}
        for setting in sorted(drifted | _settings_read(facts)):
            samples["remediate_runtime_drift"].append(
                f"{_labels(host=name, setting=setting)} {int(setting in drifted)}"
            )
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
        if rules and not host["unreachable"] and not host["failed"]:
            kinds = {f["kind"] for f in host["files"]} | set(HOST_KINDS)
            for rule, (kind, severity) in rules.items():
                if kind in kinds:
                    for each in {severity} | severities_seen.get(rule, set()):
                        counts.setdefault((rule, each), 0)
        for (rule, severity), count in sorted(counts.items()):
            samples["remediate_findings"].append(
                f"{_labels(host=name, rule=rule, severity=severity)} {count}"
            )
    for status in ("changed", "ok", "unreachable", "failed"):
        samples["remediate_hosts"].append(f"{_labels(status=status)} {statuses.get(status, 0)}")
    if report.get("timestamp"):  # never 0: a report without a time would look 56 years stale
        samples["remediate_audit_timestamp_seconds"].append(f" {int(report['timestamp'])}")
    samples["remediate_audit_success"].append(f" {int(report['exit_code'] in (0, 2))}")
    if "duration_seconds" in report:
        samples["remediate_audit_duration_seconds"].append(
            f" {float(report['duration_seconds']):.3f}"
        )
    lines = []
    for metric, (kind, text) in _HELP.items():
        if not samples[metric]:
            continue
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} {kind}")
        lines += [f"{metric}{sample}" for sample in samples[metric]]
    return "\n".join(lines) + "\n"


def _settings_read(facts: dict[str, Any]) -> set[str]:
    """The live Redis settings read back on a host (its instances' too): only a value read
    can be said not to drift."""
    redis = facts.get("redis")
    if not isinstance(redis, dict):
        return set()
    found: set[str] = set()
    for each in (redis, *(redis.get("instances") or {}).values()):
        if isinstance(each, dict) and each.get("state") == "read":
            found.update(each.get("config") or {})
    return found
