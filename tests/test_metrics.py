"""Prometheus metrics of audit and merged reports: fixed things go to 0, never a timestamp 0."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from remediate.report.metrics import render_metrics
from remediate.report.plans import merge_reports
from remediate.rules import RULES
from tests.conftest import run_cli

CATALOG = {rule.id: (rule.kind, rule.severity) for rule in RULES.values()}


def _host(name: str, *, findings: list[dict[str, Any]], drifted: list[str]) -> dict[str, Any]:
    return {
        "host": name,
        "address": name,
        "status": "changed" if drifted or findings else "ok",
        "unreachable": None,
        "failed": None,
        "drift": bool(drifted),
        "files": [
            {
                "path": "/etc/redis/redis.conf",
                "kind": "redis",
                "changed": bool(drifted),
                "sha256_before": "a",
                "sha256_after": "b" if drifted else "a",
            }
        ],
        "runtime_changes": [{"setting": s} for s in drifted],
        "findings": findings,
        "facts": {
            "redis": {"state": "read", "config": {"timeout": "0", "tcp-keepalive": "60"}},
        },
    }


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _promtool(text: str) -> None:
    """``promtool check metrics`` (scripts/test installs Debian's prometheus for it); where it
    is missing, prometheus_client's parser is the check."""
    assert list(text_string_to_metric_families(text))
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


RDS002 = {"rule": "RDS002", "severity": "warning", "path": "/etc/redis/redis.conf", "line": 3}


def _report(**extra: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "audit",
        "exit_code": 2,
        "hosts": [
            _host("a", findings=[RDS002], drifted=["timeout"]),
            _host("b", findings=[], drifted=[]),
        ],
        **extra,
    }


def test_fixed_series_are_zero_not_missing() -> None:
    text = render_metrics(_report(timestamp=1_800_000_000, duration_seconds=1.5), CATALOG)
    samples = _samples(text)
    assert samples[("remediate_runtime_drift", (("host", "a"), ("setting", "timeout")))] == 1
    assert samples[("remediate_runtime_drift", (("host", "a"), ("setting", "tcp-keepalive")))] == 0
    assert samples[("remediate_runtime_drift", (("host", "b"), ("setting", "timeout")))] == 0
    rds002 = (("rule", "RDS002"), ("severity", "warning"))
    assert samples[("remediate_findings", (("host", "a"), *rds002))] == 1
    assert samples[("remediate_findings", (("host", "b"), *rds002))] == 0
    # b manages no Celery file: no Celery rule series for it
    assert not [k for k in samples if k[0] == "remediate_findings" and ("rule", "CEL006") in k[1]]
    assert samples[("remediate_audit_timestamp_seconds", ())] == 1_800_000_000
    assert samples[("remediate_audit_duration_seconds", ())] == 1.5
    assert samples[("remediate_audit_success", ())] == 1


def test_unread_or_unreached_hosts_get_no_zero_series() -> None:
    report = _report()
    report["hosts"][1]["facts"]["redis"]["state"] = "unknown: CONFIG is disabled"
    report["hosts"][1]["unreachable"] = "refused"
    report["exit_code"] = 4
    samples = _samples(render_metrics(report, CATALOG))
    assert not [
        k
        for k in samples
        if k[0] in ("remediate_findings", "remediate_runtime_drift") and ("host", "b") in k[1]
    ]
    assert samples[("remediate_audit_success", ())] == 0


def test_a_report_without_a_time_writes_no_timestamp_zero() -> None:
    samples = _samples(render_metrics(_report(), CATALOG))
    assert ("remediate_audit_timestamp_seconds", ()) not in samples


def test_merged_plans_keep_the_oldest_shards_time() -> None:
    """Two real plan documents (the bundled example, once as itself, once renamed)."""
    result = run_cli("plan", "-l", "example", "--format", "json")
    assert result.returncode == 0, result.stderr
    one = json.loads(result.stdout)
    assert one["timestamp"] > 1.7e9 and one["duration_seconds"] > 0  # plans carry their time
    two = copy.deepcopy(one)
    two["hosts"][0]["host"] = "example-2"
    two["timestamp"], two["duration_seconds"] = one["timestamp"] - 60, 0.5
    merged = merge_reports([one, two])
    assert merged["timestamp"] == one["timestamp"] - 60
    assert merged["duration_seconds"] == max(one["duration_seconds"], 0.5)
    text = render_metrics(merged, CATALOG)
    samples = _samples(text)
    assert samples[("remediate_audit_timestamp_seconds", ())] == one["timestamp"] - 60
    cel006 = (("rule", "CEL006"), ("severity", "error"))
    assert samples[("remediate_findings", (("host", "example-2"), *cel006))] == 1
    assert (
        samples[
            (
                "remediate_findings",
                (("host", "example-2"), ("rule", "CEL002"), ("severity", CATALOG["CEL002"][1])),
            )
        ]
        == 0
    )
    _promtool(text)


def test_promtool_accepts_audit_metrics() -> None:
    _promtool(render_metrics(_report(timestamp=1_800_000_000, duration_seconds=1.5), CATALOG))
