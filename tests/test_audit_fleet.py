"""`remediate audit` for cron, and sharded runs merged back into one report, on the real fleet."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import PASSWORD, RABBIT_PASSWORD, drift, make_celery_clean, write_project


@pytest.fixture
def project(fleet: Fleet, tmp_path: Path) -> Path:
    drift(fleet)
    return write_project(fleet, tmp_path)


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def check_metrics(path: Path) -> None:
    """``promtool check metrics`` where installed (Debian's prometheus), and the
    prometheus_client parser always."""
    text = path.read_text()
    assert list(text_string_to_metric_families(text))
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_audit_of_a_drifted_fleet_writes_report_and_metrics(project: Path, fleet: Fleet) -> None:
    report, prom = project / "out" / "audit.json", project / "out" / "audit.prom"
    result = run_cli(
        "audit", "--report", str(report), "--metrics", str(prom), env=fleet.env(), cwd=project
    )
    assert result.returncode == 2, result.stderr
    assert (
        result.stdout.strip()
        .splitlines()[-1]
        .startswith(f"{len(fleet.hosts)} hosts: {len(fleet.hosts)} drifted")
    )
    doc = json.loads(report.read_text())
    assert doc["kind"] == "audit" and doc["schema"] == 1 and len(doc["hosts"]) == len(fleet.hosts)
    samples = metric_samples(prom.read_text())
    for host in fleet.hosts:
        assert samples[("remediate_host_reachable", (("host", host.name),))] == 1
        key = (
            "remediate_drift",
            (("file", "/etc/redis/redis.conf"), ("host", host.name), ("kind", "redis")),
        )
        assert samples[key] == 1
        assert (
            samples[("remediate_runtime_drift", (("host", host.name), ("setting", "timeout")))] == 1
        )
    assert samples[("remediate_audit_timestamp_seconds", ())] > 1.7e9
    assert samples[("remediate_audit_success", ())] == 1  # drift is a finding, not a failure
    assert 0 < samples[("remediate_audit_duration_seconds", ())] < 120
    check_metrics(prom)
    for blob in (result.stdout, result.stderr, report.read_text(), prom.read_text()):
        assert PASSWORD not in blob and RABBIT_PASSWORD not in blob


def test_audit_of_a_clean_fleet_prints_nothing(project: Path, fleet: Fleet) -> None:
    make_celery_clean(fleet)
    assert run_cli("apply", "--yes", env=fleet.env(), cwd=project).returncode == 0
    prom = project / "clean.prom"
    result = run_cli("audit", "--metrics", str(prom), env=fleet.env(), cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    samples = metric_samples(prom.read_text())
    assert all(v == 0 for (name, _), v in samples.items() if name == "remediate_drift")
    # what was fixed is still there, at 0, instead of vanishing
    for host in fleet.hosts:
        for setting in ("timeout", "tcp-keepalive"):
            key = ("remediate_runtime_drift", (("host", host.name), ("setting", setting)))
            assert samples[key] == 0
        key = (
            "remediate_findings",
            (("host", host.name), ("rule", "RDS002"), ("severity", "warning")),
        )
        assert samples[key] == 0
    assert samples[("remediate_audit_success", ())] == 1
    assert 0 < samples[("remediate_audit_duration_seconds", ())] < 120
    check_metrics(prom)


def test_two_shards_merge_into_the_single_run_report(project: Path, fleet: Fleet) -> None:
    victim = fleet.hosts[2]
    victim.stop_sshd()  # an unreachable host must merge the same way too
    try:
        whole = run_cli(
            "plan", "--format", "json", "--detailed-exitcode", env=fleet.env(), cwd=project
        )
        parts = []
        for k in (1, 2):
            part = run_cli(
                "plan",
                "--format",
                "json",
                "--detailed-exitcode",
                "--shard",
                f"{k}/2",
                env=fleet.env(),
                cwd=project,
            )
            path = project / f"shard{k}.json"
            path.write_text(part.stdout)
            parts.append(json.loads(part.stdout))
    finally:
        fleet.restart(victim)
    assert {len(p["hosts"]) for p in parts} != {0} and sum(len(p["hosts"]) for p in parts) == len(
        fleet.hosts
    )
    assert [p["shard"] for p in parts] == [{"index": 1, "count": 2}, {"index": 2, "count": 2}]
    assert "shard" not in json.loads(whole.stdout)
    alone = run_cli("report", "merge", str(project / "shard1.json"), env=fleet.env(), cwd=project)
    assert (alone.returncode, alone.stdout) == (1, ""), alone.stderr
    assert "shard 2/2 missing" in alone.stderr and "Traceback" not in alone.stderr
    twice = run_cli(
        "report",
        "merge",
        str(project / "shard1.json"),
        str(project / "shard1.json"),
        str(project / "shard2.json"),
        env=fleet.env(),
        cwd=project,
    )
    assert twice.returncode == 1 and "shard 1/2 given twice" in twice.stderr, twice.stderr
    merged = run_cli(
        "report",
        "merge",
        str(project / "shard1.json"),
        str(project / "shard2.json"),
        env=fleet.env(),
        cwd=project,
    )
    assert merged.returncode == whole.returncode == 4
    expected, got = json.loads(whole.stdout), json.loads(merged.stdout)
    # plans carry their time: a merge is as fresh as its oldest shard, as long as its slowest
    assert got["timestamp"] == min(p["timestamp"] for p in parts) > 1.7e9
    assert got["duration_seconds"] == max(p["duration_seconds"] for p in parts) > 0
    shards_prom = project / "shards.prom"
    run_cli(
        "report",
        "merge",
        str(project / "shard1.json"),
        str(project / "shard2.json"),
        "--quiet",
        "--metrics",
        str(shards_prom),
    )
    fresh = metric_samples(shards_prom.read_text())
    assert fresh[("remediate_audit_timestamp_seconds", ())] == got["timestamp"]
    assert fresh[("remediate_audit_success", ())] == 0  # a host was unreachable
    for doc in (expected, got):
        for key in ("timestamp", "duration_seconds"):
            doc.pop(key)
    for doc in (
        expected,
        got,
    ):  # the facts hold process ids and client counts: they move between runs
        for host in doc["hosts"]:
            host["facts"] = {}
    assert got == expected
    metrics_whole, metrics_merged = project / "whole.prom", project / "merged.prom"
    (project / "whole.json").write_text(json.dumps(expected))
    (project / "merged.json").write_text(json.dumps(got))
    run_cli(
        "report", "merge", str(project / "whole.json"), "--quiet", "--metrics", str(metrics_whole)
    )
    run_cli(
        "report", "merge", str(project / "merged.json"), "--quiet", "--metrics", str(metrics_merged)
    )
    assert metrics_whole.read_text() == metrics_merged.read_text()


def test_shards_are_stable_and_balanced() -> None:
    from remediate.playbook.targets import shard_of

    names = [f"redis-{i:04d}" for i in range(2000)]
    shards = [shard_of(n, 4) for n in names]
    assert all(400 < shards.count(k) < 600 for k in range(4))
    assert [shard_of(n, 4) for n in names[:1000]] == shards[:1000]  # growing the fleet moves nobody
