"""Two redis-server instances on one host (Debian's redis-server@6380 beside redis-server), a
playbook path pattern covering both, and the host findings about which files really run
(RDS010, RDS011, PLB001), on the real SSH fleet (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _subnet, run_cli
from tests.fleet import ALIVE, Fleet, FleetHost
from tests.scenario import PASSWORD, drift, drifted_redis_conf, fleet_playbook, write, write_project
from tests.test_live_truth_fleet import client

SECOND = "/etc/redis/redis-6380.conf"
GLOB = "/etc/redis/redis*.conf"
START_SECOND = (
    "redis-server /etc/redis/redis-6380.conf --daemonize yes --bind {address} "
    "--pidfile /run/redis/redis-6380.pid --dir /var/lib/redis --dbfilename dump-6380.rdb "
    "--logfile /var/log/redis/redis-6380.log"
)
STOP_SECOND = ALIVE + (
    'pid=$(cat /run/redis/redis-6380.pid 2>/dev/null); [ -n "$pid" ] || exit 0; '
    'kill "$pid" 2>/dev/null; while alive "$pid"; do sleep 0.05; done; '
    "rm -f /run/redis/redis-6380.pid"
)
NOISE = ("Secsh", "Exception (client)", "Traceback", "Socket exception")


def second_conf() -> bytes:
    """Debian's redis.conf for a second instance (as redis-server@6380 expects it), drifted."""
    text = drifted_redis_conf().decode()
    assert "\nport 6379\n" in text
    return text.replace("\nport 6379\n", "\nport 6380\n").encode()


def start_second(host: FleetHost) -> int:
    write(host, SECOND, second_conf(), 0o640, "redis")
    host.exec(["sh", "-c", START_SECOND.format(address=host.address)])
    client(host, 6380).ping()
    return int(host.path("/run/redis/redis-6380.pid").read_text())


def stop_second(host: FleetHost) -> None:
    host.exec(["sh", "-c", STOP_SECOND])


@pytest.fixture(scope="module")
def two_fleet() -> Iterator[Fleet]:
    with Fleet(1, redis=True, subnet=_subnet(6)) as running:
        yield running


@pytest.fixture
def host(two_fleet: Fleet) -> Iterator[FleetHost]:
    victim = two_fleet.hosts[0]
    drift(two_fleet)
    yield victim
    stop_second(victim)
    victim.path(SECOND).unlink(missing_ok=True)
    victim.stop_redis()
    victim.path("/etc/redis/redis.conf").write_bytes(drifted_redis_conf())
    victim.start_redis()


def project(fleet: Fleet, directory: Path, path: str = GLOB) -> Path:
    playbook = fleet_playbook().replace("path: /etc/redis/redis.conf", f"path: {path}")
    return write_project(fleet, directory, playbook=playbook)


def cli(directory: Path, fleet: Fleet, *args: str):  # type: ignore[no-untyped-def]
    result = run_cli(*args, env=fleet.env(), cwd=directory)
    assert not any(noise in result.stderr for noise in NOISE), result.stderr
    return result


def redis_findings(plan: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted(
        (f["rule"], f["path"])
        for f in plan["findings"]
        if f["rule"] in ("RDS010", "RDS011", "PLB001")
    )


def test_a_glob_plans_fixes_and_rolls_back_both_instances(
    two_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    second_pid = start_second(host)
    first_pid = host.redis_pid()
    files_before = {p: host.path(p).read_bytes() for p in ("/etc/redis/redis.conf", SECOND)}
    directory = project(two_fleet, tmp_path)

    plan = json.loads(cli(directory, two_fleet, "plan", "--format", "json").stdout)["hosts"][0]
    planned = {f["path"]: f for f in plan["files"] if f["kind"] == "redis"}
    assert set(planned) == {"/etc/redis/redis.conf", SECOND}
    for f in planned.values():
        assert {(c["setting"], c["old"], c["new"]) for c in f["changes"]} == {
            ("timeout", "300", "0"),
            ("tcp-keepalive", "0", "60"),
        }
    assert {
        (r["source"], r["setting"], r["live"], r["desired"]) for r in plan["runtime_changes"]
    } == {
        (source, setting, live, desired)
        for source in ("/etc/redis/redis.conf", SECOND)
        for setting, live, desired in (("timeout", "300", "0"), ("tcp-keepalive", "0", "60"))
    }
    instances = plan["facts"]["redis"]["instances"]
    assert instances["/etc/redis/redis.conf"]["pid"] == first_pid
    assert instances[SECOND]["pid"] == second_pid
    assert instances[SECOND]["listener"] == f"{host.address}:6380"
    assert all(i["state"] == "read" for i in instances.values())
    assert redis_findings(plan) == []  # every running instance's file is managed, and used

    text = cli(directory, two_fleet, "plan").stdout
    assert SECOND in text and PASSWORD not in text

    applied = cli(directory, two_fleet, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for port in (6379, 6380):
        live = client(host, port)
        assert live.config_get("timeout") == {"timeout": "0"}, port
        assert live.config_get("tcp-keepalive") == {"tcp-keepalive": "60"}, port
    assert host.redis_pid() == first_pid  # set on the running servers, not restarted
    assert int(host.path("/run/redis/redis-6380.pid").read_text()) == second_pid
    for path in files_before:
        assert b"\ntimeout 0\n" in host.path(path).read_bytes(), path
    again = cli(directory, two_fleet, "plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout

    undo = cli(directory, two_fleet, "rollback", "--last", "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    for port in (6379, 6380):
        live = client(host, port)
        assert live.config_get("timeout") == {"timeout": "300"}, (port, undo.stdout)
        assert live.config_get("tcp-keepalive") == {"tcp-keepalive": "0"}, (port, undo.stdout)
    for path, before in files_before.items():
        assert host.path(path).read_bytes() == before, path
    assert PASSWORD not in applied.stdout + undo.stdout


def test_an_unmanaged_instance_and_an_unused_file_are_findings(
    two_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    start_second(host)
    literal = project(two_fleet, tmp_path / "literal", "/etc/redis/redis.conf")
    plan = json.loads(cli(literal, two_fleet, "plan", "--format", "json").stdout)["hosts"][0]
    assert redis_findings(plan) == [("RDS010", SECOND)]
    (rds010,) = [f for f in plan["findings"] if f["rule"] == "RDS010"]
    assert f"on {host.address}:6380" in rds010["message"] and rds010["severity"] == "warning"
    audit = cli(literal, two_fleet, "audit")
    assert audit.returncode == 2 and "RDS010" in audit.stdout, audit.stdout

    stop_second(host)  # redis-6380.conf stays, no instance runs from it; 6379 still runs
    unused = project(two_fleet, tmp_path / "unused", SECOND)
    plan = json.loads(cli(unused, two_fleet, "plan", "--format", "json").stdout)["hosts"][0]
    assert redis_findings(plan) == [("RDS010", "/etc/redis/redis.conf"), ("RDS011", SECOND)]
    # the inventory's redis_host points at the 6379 instance, which runs from another file
    state = plan["facts"]["redis"]["state"]
    assert state.startswith("unknown: ") and "runs from /etc/redis/redis.conf" in state, state
    text = cli(unused, two_fleet, "plan").stdout
    assert f"RDS011 warning {SECOND}  no running redis-server uses {SECOND}" in text


def test_a_pattern_matching_nothing_is_a_finding(
    two_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    nothing = project(two_fleet, tmp_path, "/etc/redis/redis-*.conf")
    plan = cli(nothing, two_fleet, "plan", "--format", "json")
    doc = json.loads(plan.stdout)["hosts"][0]
    assert [f["path"] for f in doc["files"] if f["kind"] == "redis"] == []
    assert redis_findings(doc) == [
        ("PLB001", "/etc/redis/redis-*.conf"),
        ("RDS010", "redis-server"),
    ]
    (rds010,) = [f for f in doc["findings"] if f["rule"] == "RDS010"]
    assert f"pid {host.redis_pid()} on {host.address}:6379" in rds010["message"]
    assert "not asked: no managed redis.conf" in rds010["message"]
    audit = cli(nothing, two_fleet, "audit")
    assert audit.returncode == 2 and "PLB001" in audit.stdout, audit.stdout  # drift, not clean
    text = cli(nothing, two_fleet, "plan").stdout
    assert "PLB001 warning /etc/redis/redis-*.conf  /etc/redis/redis-*.conf matches no file" in text
