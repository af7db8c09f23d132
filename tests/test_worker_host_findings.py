"""The host side of issue 14's rules through the pure planner: host facts (workers from the
probe's parser, broker versions, Redis memory, the path variables) reach the rules as
``plan``/``audit`` run them (``host_findings``), without a host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from remediate.errors import RemediateError
from remediate.model.facts import FileFact, HostFacts, RedisRuntime
from remediate.model.secrets import Masker
from remediate.plan.host_facts import PATH_PRESETS, path_idle, rule_facts
from remediate.plan.planner import DesiredFile, PlannedFile, facts_summary, host_findings, plan_file
from remediate.playbook.schema import FileSpec
from remediate.remote.runtime import parse_rabbitmq_probe
from remediate.remote.worker_facts import parse_worker_probe

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "workers-debian.txt"
CELERYCONFIG = b'broker_url = "redis://127.0.0.1:16399/0"\n'
UNIT = (
    b"[Unit]\nDescription=Celery workers\n\n[Service]\nType=forking\n"
    b"ExecStart=/bin/sh -c '${CELERY_BIN} multi start w1 -A tasks'\n"
)


def _planned(files: dict[str, tuple[str, bytes]], facts: HostFacts) -> list[PlannedFile]:
    out = []
    for path, (kind, content) in files.items():
        spec = FileSpec(kind, path, "t.j2")
        out.append(plan_file(DesiredFile(spec, path, content, {}), facts, Masker()))
    return out


def _host(files: dict[str, tuple[str, bytes]], **facts: object) -> HostFacts:
    return HostFacts(
        {
            path: FileFact(path, True, data, hashlib.sha256(data).hexdigest(), "0644")
            for path, (_, data) in files.items()
        },
        **facts,  # type: ignore[arg-type]
    )


def _rules(
    files: dict[str, tuple[str, bytes]], variables: dict[str, object], **facts: object
) -> list[tuple[str, str]]:
    host = _host(files, **facts)
    findings = host_findings(_planned(files, host), host, variables, Masker())
    return [(f.rule, f.message) for f in findings]


def _systemd_worker() -> bytes:
    """The recorded old worker, as if systemd ran it from a unit without Restart=."""
    text = RECORDED.read_bytes().split(b"@K ")[0]
    text = re.sub(rb"(@G [^\n]*\n)+", b"@G 0::/system.slice/celery.service\n", text)
    lines = b"".join(b"|" + line + b"\n" for line in UNIT.split(b"\n")[:-1])
    return text.replace(
        b"@S process_api\n", b"@S systemd\n@U /etc/systemd/system/celery.service\n" + lines
    )


def test_sys002_from_the_unit_a_running_worker_runs_in() -> None:
    """No systemd in the test hosts: the worker's cgroup line and unit come from a recording."""
    workers = parse_worker_probe(_systemd_worker(), {16399})
    files = {"/srv/app/celeryconfig.py": ("celery", CELERYCONFIG)}
    found = _rules(files, {}, workers=workers)
    sys002 = [m for rule, m in found if rule == "SYS002"]
    assert sys002 == [
        (
            "celery.service runs the running Celery worker (pid 14104) without Restart= "
            "(systemd's default no): a worker that exits after its reconnect retries stays down"
        )
    ]
    # and the finding points at the unit on the host, at its ExecStart line
    host = _host(files, workers=workers)
    (finding,) = [
        f for f in host_findings(_planned(files, host), host, {}, Masker()) if f.rule == "SYS002"
    ]
    assert (finding.path, finding.line) == ("/etc/systemd/system/celery.service", 6)


def test_no_sys002_when_the_unit_restarts_always_or_no_unit_was_read() -> None:
    always = _systemd_worker().replace(b"|Type=forking\n", b"|Type=forking\n|Restart=always\n")
    files = {"/srv/app/celeryconfig.py": ("celery", CELERYCONFIG)}
    assert "SYS002" not in {r for r, _ in _rules(files, {}, workers=parse_worker_probe(always))}
    unread = re.sub(rb"@U [^\n]*\n(\|[^\n]*\n)*", b"", _systemd_worker())
    (worker,) = parse_worker_probe(unread)
    assert worker.supervisor.kind == "systemd" and not worker.supervisor.read
    assert "SYS002" not in {r for r, _ in _rules(files, {}, workers=(worker,))}


def test_pkg_and_cel016_for_the_recorded_workers() -> None:
    workers = parse_worker_probe(RECORDED.read_bytes(), {16399})
    config = CELERYCONFIG + b'broker_transport_options = {"socket_keepalive": True}\n'
    found = _rules({"/srv/app/celeryconfig.py": ("celery", config)}, {}, workers=workers)
    assert [r for r, m in found if "pid 14104" in m and r.startswith("PKG")] == ["PKG004"]
    assert not [r for r, m in found if "pid 14499" in m and r.startswith("PKG")]
    cel016 = [m for r, m in found if r == "CEL016"]
    assert len(cel016) == 1 and "pid 14104 has 10 broker connection(s)" in cel016[0]


REDIS_CONF = b"maxmemory 100mb\nmaxmemory-policy noeviction\n"


@pytest.mark.parametrize(("used", "expected"), [(95 * 2**20, True), (50 * 2**20, False)])
def test_rds009_from_the_live_used_memory(used: int, expected: bool) -> None:
    redis = RedisRuntime(
        True, config={"maxmemory": str(100 * 2**20)}, used_memory=used, state="read"
    )
    found = _rules({"/etc/redis/redis.conf": ("redis", REDIS_CONF)}, {}, redis=redis)
    assert ("RDS009" in {r for r, _ in found}) is expected


def test_rds009_silent_when_the_server_was_not_read() -> None:
    redis = RedisRuntime(True, used_memory=99 * 2**20, state="unknown", error="auth")
    assert "RDS009" not in {
        r for r, _ in _rules({"/etc/redis/redis.conf": ("redis", REDIS_CONF)}, {}, redis=redis)
    }


CELERY_HC = (
    b'broker_url = "redis://r:6379/0"\nbroker_transport_options = {"health_check_interval": 400}\n'
)


@pytest.mark.parametrize(
    ("value", "x004"),
    [
        (350, True),
        ("350", True),
        ("aws-nlb", True),
        ("gcp-nat", False),
        (500, False),
        (None, False),
    ],
)
def test_x004_from_the_host_variable(value: object, x004: bool) -> None:
    variables = {} if value is None else {"remediate_path_idle_timeout": value}
    found = _rules({"/srv/app/celeryconfig.py": ("celery", CELERY_HC)}, variables)
    assert ("X004" in {r for r, _ in found}) is x004


def test_path_presets_and_bad_values() -> None:
    assert PATH_PRESETS == {
        "aws-nlb": (350, False),
        "azure-redis": (600, True),
        "azure-lb": (240, False),
        "gcp-nat": (1200, False),
    }
    assert path_idle({"remediate_path_idle_timeout": "azure-redis"}) == (600, True)
    assert path_idle(
        {"remediate_path_idle_timeout": "azure-redis", "remediate_path_counts_data": "false"}
    ) == (600, False)
    assert path_idle({"remediate_path_counts_data": True}) == (None, True)
    for bad in ("5min", "0", -3, True, "aws"):
        with pytest.raises(RemediateError, match="remediate_path_idle_timeout"):
            path_idle({"remediate_path_idle_timeout": bad}, "host1")
    with pytest.raises(RemediateError, match="remediate_path_counts_data"):
        path_idle({"remediate_path_counts_data": "maybe"})


def test_broker_versions_reach_the_rules_only_when_read() -> None:
    redis = RedisRuntime(True, version="6.2.14", used_memory=5, state="read")
    rabbit = parse_rabbitmq_probe(b'{{ok,60},"1234",{ok,"4.3.0"}}\n', 0)
    assert rabbit.version == "4.3.0" and rabbit.heartbeat == 60 and rabbit.pid == 1234
    got = rule_facts(HostFacts({}, redis, rabbit), {})
    assert (got["redis_version"], got["redis_used_memory"], got["rabbitmq_version"]) == (
        "6.2.14",
        5,
        "4.3.0",
    )
    unread = RedisRuntime(True, version="6.2.14", state="unknown", error="x")
    assert rule_facts(HostFacts({}, unread, None), {})["redis_version"] is None
    old = parse_rabbitmq_probe(b'{{ok,60},"1234"}\n', 0)  # a probe reply without the version
    assert old.running and old.version == ""


def test_facts_summary_lists_workers_and_says_when_none_run() -> None:
    workers = parse_worker_probe(RECORDED.read_bytes(), {16399})
    summary = facts_summary(HostFacts({}, workers=workers))
    old = summary["workers"][0]
    assert old["versions"]["kombu"] == "5.3.7" and old["pid"] == 14104
    assert {c["keepalive"] for c in old["broker_connections"]} == {"off"}
    assert facts_summary(HostFacts({}, workers=()))["workers"] == []
    assert "workers" not in facts_summary(HostFacts({}))  # not gathered


def test_process_argv_in_facts_has_no_broker_password() -> None:
    from remediate.model.facts import ProcessFact

    process = ProcessFact(
        9, "celery", 0, "/usr/bin/python3", ("celery", "-b", "amqp://u:pw1234@r//")
    )
    argv = facts_summary(HostFacts({}, processes=(process,)))["processes"][0]["argv"]
    assert "pw1234" not in " ".join(argv) and argv[0] == "celery"
