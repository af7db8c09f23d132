"""Views of a ``remediate verify`` run: text lines, the JSON document (``kind: verify``) and
Prometheus textfile metrics. Pure: results in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.model.outcomes import HostOutcome
from remediate.model.verify import HostVerify
from remediate.report.exit import exit_code

SCHEMA = 1
VERSIONS = ("celery", "kombu", "redis", "amqp")


def status_of(outcome: HostOutcome[HostVerify]) -> str:
    if outcome.unreachable:
        return "unreachable"
    if outcome.failed or outcome.value is None:
        return "error"
    if outcome.value.interrupted:
        return "interrupted"
    return "pass" if outcome.value.passed else "fail"


def verify_exit_code(outcomes: Sequence[HostOutcome[HostVerify]]) -> int:
    """0 all pass, 2 any fail, 4 unreachable, 1 error (a host whose canary could not run)."""
    statuses = [status_of(o) for o in outcomes]
    return int(
        exit_code(
            failed=sum(s in ("error", "interrupted") for s in statuses),
            unreachable=statuses.count("unreachable"),
            drift="fail" in statuses,
        )
    )


def host_json(outcome: HostOutcome[HostVerify]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "host": outcome.host,
        "status": status_of(outcome),
        "unreachable": outcome.unreachable,
        "error": outcome.failed,
        "elapsed_seconds": round(outcome.elapsed, 2),
    }
    v = outcome.value
    if v is None:
        return doc
    doc.update(
        {
            "address": v.address,
            "passed": v.passed,
            "config_path": v.config_path,
            "interpreter": v.interpreter,
            "versions": dict(v.versions),
            "options": dict(v.options),
            "idle_seconds": v.idle_seconds,
            "idle_limit_seconds": v.idle_limit,
            "budget_seconds": v.budget_seconds,
            "broker": v.broker.as_json(),
            "published": v.published,
            "publish_error": v.publish_error,
            "consume_seconds": v.consume_seconds,
            "events": list(v.events),
            "cause": v.cause,
            "rules": list(v.rules),
            "left_behind": list(v.cleanup),
        }
    )
    return doc


def verify_json(
    outcomes: Sequence[HostOutcome[HostVerify]], *, run: str, timestamp: int, skipped: Sequence[str]
) -> dict[str, Any]:
    hosts = [host_json(o) for o in outcomes]
    counts: dict[str, int] = {}
    for host in hosts:
        counts[host["status"]] = counts.get(host["status"], 0) + 1
    return {
        "kind": "verify",
        "schema": SCHEMA,
        "run": run,
        "timestamp": timestamp,
        "exit_code": verify_exit_code(outcomes),
        "summary": counts,
        "skipped": list(skipped),
        "hosts": hosts,
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g} s"


def verify_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(style, text) lines: one block per host, then a summary."""
    lines: list[tuple[str, str]] = []
    styles = {"pass": "green", "fail": "red", "error": "red", "unreachable": "yellow"}
    for host in doc["hosts"]:
        status = host["status"]
        style = styles.get(status, "")
        if "passed" not in host:
            reason = str(host["unreachable"] or host["error"]).removeprefix(f"{host['host']}: ")
            lines.append((style, f"{host['host']}: {status.upper()}: {reason}"))
            continue
        versions = " ".join(
            f"{name} {host['versions'][name]}" for name in VERSIONS if host["versions"].get(name)
        )
        head = f"{host['host']}: {status.upper()}"
        if status == "pass":
            head += (
                f": consumed {host['consume_seconds']:g} s after an idle {host['idle_seconds']:g} s"
            )
        elif status == "fail":
            head += (
                f": not consumed within {host['budget_seconds']:g} s after an idle "
                f"{host['idle_seconds']:g} s"
            )
        lines.append((style, head))
        lines.append(("", f"  {versions or 'versions unknown'} ({host['interpreter']})"))
        options = ", ".join(f"{k}={v}" for k, v in host["options"].items())
        lines.append(("", f"  options: {options}"))
        lines.append(("", f"  broker saw: {_broker_line(host)}"))
        for event in host["events"]:
            lines.append(("", f"  canary log: {event}"))
        if host["publish_error"]:
            lines.append(("red", f"  {host['publish_error']}"))
        if status == "fail":
            rules = f" [{', '.join(host['rules'])}]" if host["rules"] else ""
            lines.append(("red", f"  likely cause: {host['cause']}{rules}"))
        for left in host["left_behind"]:
            lines.append(("red", f"  left behind: {left}"))
    summary = ", ".join(f"{n} {s}" for s, n in sorted(doc["summary"].items()))
    skipped = f"; skipped (no Celery app): {', '.join(doc['skipped'])}" if doc["skipped"] else ""
    lines.append(("bold", f"verify {doc['run']}: {summary or 'no host'}{skipped}"))
    return lines


def _broker_line(host: dict[str, Any]) -> str:
    broker = host["broker"]
    parts = []
    if broker.get("consumer_max_idle_seconds") is not None:
        parts.append(f"consuming connection idle <= {broker['consumer_max_idle_seconds']:g} s")
    if broker["idle_by_connection"]:
        each = ", ".join(f"{k} idle<={v:g}s" for k, v in broker["idle_by_connection"].items())
        parts.append(
            f"{broker['connections']} canary connection(s) in {broker['samples']} CLIENT LIST reads ({each})"
        )
    if broker["heartbeat_seconds"] is not None:
        parts.append(f"heartbeat negotiated {broker['heartbeat_seconds']} s")
    limit = host["idle_limit_seconds"]
    if limit:
        parts.append(f"path idle limit {limit:g} s")
    if broker["keepalive"]:
        parts.append("sockets " + "; ".join(broker["keepalive"]))
    parts += broker["notes"]
    return "; ".join(parts) or "nothing observed"


_HELP = {
    "remediate_verify_pass": ("gauge", "1 if the canary consumed after the idle window, else 0."),
    "remediate_verify_consume_seconds": (
        "gauge",
        "Seconds from the publish to the canary running the task (absent when it did not).",
    ),
    "remediate_verify_timestamp_seconds": ("gauge", "When verify ran (Unix time)."),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def verify_metrics(doc: dict[str, Any]) -> str:
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    for host in sorted(doc["hosts"], key=lambda h: h["host"]):
        label = f'{{host="{_label(host["host"])}"}}'
        samples["remediate_verify_pass"].append(f"{label} {1 if host['status'] == 'pass' else 0}")
        if host.get("consume_seconds") is not None:
            samples["remediate_verify_consume_seconds"].append(f"{label} {host['consume_seconds']}")
    samples["remediate_verify_timestamp_seconds"].append(f" {doc['timestamp']}")
    out = []
    for name, (kind, text) in _HELP.items():
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        out += [f"{name}{sample}" for sample in samples[name]]
    return "\n".join(out) + "\n"
