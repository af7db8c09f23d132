"""The pure parts of `remediate verify`: parsers of what hosts print, the defaults, the likely
cause, and the views (text, JSON, metrics, exit codes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from remediate.model.outcomes import HostOutcome
from remediate.model.verify import BrokerView, HostVerify
from remediate.plan.verify_settings import (
    default_budget,
    default_idle,
    likely_cause,
    options_in_force,
)
from remediate.remote.canary_host import (
    canary_clients,
    parse_list_connections,
    parse_ss,
)
from remediate.report.verify import verify_json, verify_lines, verify_metrics

# as `ss -tnoep` prints them here (iproute2 6.1): users before timer, or no timer at all
SS = """\
State Recv-Q Send-Q Local Address:Port Peer Address:Port Process
ESTAB 0      0          127.0.0.1:44750   127.0.81.1:6379  users:(("python",pid=4121,fd=14)) timer:(keepalive,55sec,0) ino:461421 sk:4e cgroup:/ <->
ESTAB 0      0          127.0.0.1:46112   127.0.0.1:34841  users:(("python",pid=4121,fd=21)) ino:533289 sk:10a7 cgroup:/ <->
ESTAB 0      0          127.0.0.1:16399    127.0.0.1:47544 users:(("redis-server",pid=41,fd=13)) timer:(keepalive,2min,0) ino:325615 sk:22 cgroup:/ <->
"""

REDIS = {
    "driver": "redis",
    "transport": "redis",
    "url": "redis://:**@127.0.0.1:6379/0",
    "versions": {"celery": "5.7.0", "kombu": "5.7.0"},
    "transport_options": {},
    "broker_connection_max_retries": 100,
}


def test_ss_sockets_of_the_canary_only() -> None:
    found = parse_ss(SS, 4121)
    assert [t.line() for t in found] == [
        "127.0.0.1:44750->127.0.81.1:6379 keepalive,55sec,0",
        "127.0.0.1:46112->127.0.0.1:34841 no timer",
    ]
    assert [t.peer for t in parse_ss(SS, 4121, peer_port=34841)] == ["127.0.0.1:34841"]
    assert parse_ss(SS, 412) == ()  # pid=412 is not pid=4121


def test_canary_clients_by_name_else_new_since_the_baseline() -> None:
    clients = [
        {"id": 3, "name": "", "cmd": "brpop"},
        {"id": 7, "name": "remediate-verify-r1", "cmd": "brpop"},
        {"id": 8, "name": "remediate-verify-r1", "cmd": "exec"},
        {"id": 9, "name": "", "cmd": "client|list"},
    ]
    assert [c["id"] for c in canary_clients(clients, "remediate-verify-r1", {"3"})] == [7, 8]
    unnamed = [dict(c, name="") for c in clients]
    assert [c["id"] for c in canary_clients(unnamed, "remediate-verify-r1", {"3"})] == [7, 8]


def test_rabbitmqctl_rows() -> None:
    rows = parse_list_connections(
        "127.0.0.1:51234 -> 127.0.1.1:5672\t10\n127.0.0.1:40000 -> 127.0.1.1:5672\t60\n"
    )
    assert [(r.name.split()[0], r.timeout) for r in rows] == [
        ("127.0.0.1:51234", 10),
        ("127.0.0.1:40000", 60),
    ]


def test_defaults_follow_the_known_limits_and_the_settings() -> None:
    assert default_idle([]) == 400.0
    assert default_idle([0.0, 300.0, 3.0]) == 376.0  # 300 * 1.25 + 1
    options = {"socket_timeout": 30, "health_check_interval": 25}
    assert default_budget(dict(REDIS, transport_options=options)) == 10 + 60 + 25
    assert default_budget(REDIS) == 60.0  # no socket timeout: 25 s assumed, twice
    assert default_budget({"driver": "amqp", "broker_heartbeat": 10}) == 30.0
    assert default_budget({"driver": "amqp", "broker_heartbeat": None}) == 250.0  # Celery's 120


def test_likely_cause_names_the_rules() -> None:
    cause, rules = likely_cause(REDIS, idle_limit=3.0, canary_idle=6.0, events=[], published=True)
    assert "silent wedge" in cause and "sat idle 6 s" in cause
    assert rules == ("CEL005", "X004")
    fixed = dict(
        REDIS,
        transport_options={
            "socket_timeout": 2,
            "health_check_interval": 1,
            "socket_keepalive": True,
            "socket_keepalive_options": {"4": 60},
        },
    )
    lost = [{"at": 2.5, "what": "connection lost: network:TimeoutError"}]
    cause, rules = likely_cause(fixed, idle_limit=3.0, canary_idle=7.0, events=lost, published=True)
    assert "reconnected 2.5 s after the publish" in cause and "retry_on_timeout" in cause
    assert rules == ("X004",)
    old = dict(REDIS, transport="sentinel", versions={"kombu": "5.3.7"})
    assert likely_cause(old, idle_limit=None, canary_idle=None, events=[], published=True)[1] == (
        "CEL005",
        "PKG002",
        "PKG004",
    )
    amqp = {"driver": "amqp", "broker_heartbeat": 0, "versions": {}}
    assert likely_cause(amqp, idle_limit=None, canary_idle=None, events=[], published=True)[1] == (
        "CEL010",
    )
    assert "broker_heartbeat" in options_in_force(amqp)


def outcomes() -> list[HostOutcome[HostVerify]]:
    passed = HostVerify(
        "web1",
        "10.0.0.1",
        True,
        versions={"celery": "5.7.0", "kombu": "5.7.0"},
        options={"broker": "redis://:********@10.0.0.9:6379/0"},
        idle_seconds=7,
        budget_seconds=12,
        broker=BrokerView(7, 2, 6.0, 0.0, {"id=1 cmd=brpop": 0.0, "id=2 cmd=exec": 6.0}),
        published=True,
        consume_seconds=2.5,
    )
    failed = HostVerify(
        "web2",
        "10.0.0.2",
        False,
        idle_seconds=7,
        budget_seconds=12,
        published=True,
        cause="the canary never noticed",
        rules=("CEL005",),
    )
    return [
        HostOutcome("web1", passed),
        HostOutcome("web2", failed),
        HostOutcome("web3", unreachable="cannot connect to 10.0.0.3:22: connection refused"),
    ]


def test_views_and_exit_codes() -> None:
    found = outcomes()
    doc = verify_json(found, run="r1", timestamp=1700000000, skipped=["db1"])
    assert doc["kind"] == "verify" and doc["run"] == "r1"
    assert [h["status"] for h in doc["hosts"]] == ["pass", "fail", "unreachable"]
    assert doc["exit_code"] == 4  # unreachable beats fail
    assert verify_json(found[:2], run="r1", timestamp=1, skipped=[])["exit_code"] == 2
    assert verify_json(found[:1], run="r1", timestamp=1, skipped=[])["exit_code"] == 0
    errored = [HostOutcome[HostVerify]("web4", failed="no interpreter for the canary")]
    assert verify_json(errored, run="r1", timestamp=1, skipped=[])["exit_code"] == 1
    text = "\n".join(line for _, line in verify_lines(doc))
    assert "web1: PASS: consumed 2.5 s after an idle 7 s" in text
    assert "web2: FAIL: not consumed within 12 s after an idle 7 s" in text
    assert "likely cause: the canary never noticed [CEL005]" in text
    assert "consuming connection idle <= 0 s" in text
    assert "skipped (no Celery app): db1" in text
    metrics = verify_metrics(doc)
    assert 'remediate_verify_pass{host="web1"} 1' in metrics
    assert 'remediate_verify_pass{host="web2"} 0' in metrics
    assert 'remediate_verify_consume_seconds{host="web1"} 2.5' in metrics
    assert "remediate_verify_timestamp_seconds 1700000000" in metrics


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_metrics(tmp_path: Path) -> None:
    doc = verify_json(outcomes(), run="r1", timestamp=1700000000, skipped=[])
    done = subprocess.run(
        ["promtool", "check", "metrics"],
        input=verify_metrics(doc),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# WORKER_PROBE on a fleet host running `celery -A tasks worker --detach` from a venv: the
# detaching parent is a zombie (no exe, no cmdline), the worker re-executed `python -m celery`
WORKER_PROBE_REPLY = """@P 524

@P 525
/usr/bin/python3.11
/opt/venv/bin/python
-m
celery
-A
tasks
worker
-c
1
@P 530
/usr/bin/python3.11
/usr/bin/python3
-m
http.server
@P 531
/usr/bin/python3.11
/srv/venv2/bin/python
/srv/venv2/bin/celery
-A
proj
worker
"""


def test_worker_interpreters_are_the_venvs_not_the_resolved_exe() -> None:
    from remediate.remote.canary_host import parse_worker_probe

    assert parse_worker_probe(WORKER_PROBE_REPLY) == (
        "/opt/venv/bin/python",
        "/srv/venv2/bin/python",
    )
    assert (
        parse_worker_probe("@P 1\n/usr/bin/python3.11\n/usr/bin/python3\n-m\ncelery\n-A\nx\nbeat\n")
        == ()
    )
