"""Live truth on the real SSH fleet: what really runs is found, and a live state is read back
or said to be not running / unknown, never assumed (issue 13)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import _subnet, run_cli
from tests.fleet import ALIVE, Fleet, FleetHost
from tests.scenario import PASSWORD, drift, drifted_redis_conf, write, write_project

START = ALIVE.replace("{", "{{").replace("}", "}}") + (
    'pid=$(cat /run/redis/redis-server.pid 2>/dev/null); [ -n "$pid" ] && kill "$pid" && '
    'while alive "$pid"; do sleep 0.05; done; '
    "redis-server /etc/redis/redis.conf --daemonize yes --bind {address} --pidfile /run/redis/redis-server.pid "
    "--dir /var/lib/redis --logfile /var/log/redis/redis-server.log {extra}"
)


@pytest.fixture(scope="module")
def live_fleet() -> Iterator[Fleet]:
    with Fleet(1, redis=True, subnet=_subnet(5)) as running:
        yield running


@pytest.fixture
def host(live_fleet: Fleet) -> Iterator[FleetHost]:
    victim = live_fleet.hosts[0]
    drift(live_fleet)
    yield victim
    victim.stop_redis()
    victim.path("/etc/redis/redis.conf").write_bytes(drifted_redis_conf())
    victim.start_redis()


def restart_redis(host: FleetHost, extra: str = "", port: int = 6379) -> None:
    host.exec(["sh", "-c", START.format(address=host.address, extra=extra)])
    client(host, port).ping()


def client(host: FleetHost, port: int = 6379, command: str = "CONFIG") -> redis.Redis:
    for _ in range(100):
        c = redis.Redis(
            host=host.address, port=port, password=PASSWORD, socket_timeout=5, decode_responses=True
        )
        try:
            c.ping()
            return c
        except redis.ConnectionError:
            threading.Event().wait(0.05)
    raise AssertionError(f"no redis on {host.address}:{port}")


def project_with(fleet: Fleet, directory: Path, extra_vars: str = "") -> Path:
    project = write_project(fleet, directory)
    if extra_vars:
        inventory = project / "inventory" / "hosts.ini"
        inventory.write_text(inventory.read_text() + f"\n[fleet:vars]\n{extra_vars}\n")
    return project


def cli(project: Path, fleet: Fleet, *args: str):  # type: ignore[no-untyped-def]
    return run_cli(*args, env=fleet.env(), cwd=project)


def test_a_port_override_is_found_read_fixed_and_rolled_back(
    live_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    restart_redis(host, "--port 6390", 6390)
    pid = host.redis_pid()
    project = project_with(live_fleet, tmp_path)
    facts = json.loads(cli(project, live_fleet, "facts", "--format", "json").stdout)["hosts"][0][
        "runtime"
    ]
    assert facts["redis"]["state"] == "read" and facts["redis"]["pid"] == pid
    assert facts["redis"]["config_file"] == "/etc/redis/redis.conf"
    assert facts["redis"]["listener"] == f"{host.address}:6390"
    (process,) = [p for p in facts["processes"] if p["name"] == "redis-server"]
    assert process["pid"] == pid and process["listeners"] == [f"{host.address}:6390"]
    text = cli(project, live_fleet, "facts").stdout
    assert f"pid {pid}, /etc/redis/redis.conf, listener {host.address}:6390" in text
    plan = json.loads(cli(project, live_fleet, "plan", "--format", "json").stdout)["hosts"][0]
    assert {(r["setting"], r["live"], r["desired"]) for r in plan["runtime_changes"]} == {
        ("timeout", "300", "0"),
        ("tcp-keepalive", "0", "60"),
    }
    applied = cli(project, live_fleet, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert host.redis_pid() == pid  # set on the running server, not restarted
    assert client(host, 6390).config_get("timeout") == {"timeout": "0"}
    assert client(host, 6390).config_get("tcp-keepalive") == {"tcp-keepalive": "60"}
    undo = cli(project, live_fleet, "rollback", "--last", "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert client(host, 6390).config_get("timeout") == {"timeout": "300"}
    assert host.redis_pid() == pid


@pytest.mark.parametrize(
    ("setup", "extra_vars", "reason"),
    [
        ("", "redis_password=not-the-password", "unknown: authentication failed"),
        ("", "redis_port=6391", "unknown: no redis-server process listens on"),
        ("config-disabled", "", "unknown: CONFIG is disabled"),
        ("config-renamed", "", "unknown: CONFIG GET refused"),
    ],
)
def test_an_unreadable_live_state_is_unknown_and_fails(
    live_fleet: Fleet, host: FleetHost, tmp_path: Path, setup: str, extra_vars: str, reason: str
) -> None:
    if setup == "config-disabled":
        write(
            host,
            "/etc/redis/redis.conf",
            drifted_redis_conf() + b'rename-command CONFIG ""\n',
            0o640,
            "redis",
        )
        restart_redis(host)
    elif setup == "config-renamed":  # the running server renamed CONFIG; its file does not say so
        restart_redis(host, "--rename-command CONFIG OTHERNAME")
    project = project_with(live_fleet, tmp_path, extra_vars)
    before = host.path("/etc/redis/redis.conf").read_bytes()
    plan = cli(project, live_fleet, "plan", "--detailed-exitcode", "--format", "json")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    doc = json.loads(plan.stdout)["hosts"][0]
    assert doc["facts"]["redis"]["state"].startswith(reason), doc["facts"]["redis"]
    assert doc["runtime_changes"] == []  # nothing planned from a value that was not read
    assert doc["facts"]["redis"]["pending"] == {
        "/etc/redis/redis.conf": ["tcp-keepalive", "timeout"]
    }
    text = cli(project, live_fleet, "plan")
    assert f"redis: live state {reason}" in text.stdout and "pending" in text.stdout
    prom = tmp_path / "audit.prom"
    audit = cli(project, live_fleet, "audit", "--metrics", str(prom))
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert f'remediate_runtime_read{{host="{host.name}",component="redis"}} 0' in prom.read_text()
    applied = cli(project, live_fleet, "apply", "--yes")
    assert applied.returncode == 1 and "nothing was written" in applied.stdout, applied.stdout
    assert host.path("/etc/redis/redis.conf").read_bytes() == before
    assert PASSWORD not in plan.stdout + text.stdout + applied.stdout
    if setup == "":
        pending = cli(project, live_fleet, "apply", "--yes", "--allow-pending-live")
        assert pending.returncode == 0 and "pending restart" in pending.stdout, pending.stdout
        assert host.path("/etc/redis/redis.conf").read_bytes() != before
        assert client(host).config_get("timeout") == {"timeout": "300"}  # never claimed, never set


def test_a_renamed_config_in_the_file_is_used(
    live_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    write(
        host,
        "/etc/redis/redis.conf",
        drifted_redis_conf() + b"rename-command CONFIG R3CONF\n",
        0o640,
        "redis",
    )
    restart_redis(host)
    project = project_with(live_fleet, tmp_path)
    applied = cli(project, live_fleet, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert client(host).execute_command("R3CONF", "GET", "timeout") == {"timeout": "0"}


def test_port_squatting_gets_no_password(
    live_fleet: Fleet, host: FleetHost, tmp_path: Path
) -> None:
    host.stop_redis()
    received: list[bytes] = []
    server = socket.create_server((host.address, 6379))
    server.settimeout(0.2)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            peer.settimeout(2)
            try:
                received.append(peer.recv(65536))
                peer.sendall(b"+OK\r\n")
                received.append(peer.recv(65536))
            except OSError:
                pass
            peer.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        project = project_with(live_fleet, tmp_path)
        plan = cli(project, live_fleet, "plan", "--format", "json")
        facts = cli(project, live_fleet, "facts")
    finally:
        stop.set()
        thread.join()
        server.close()
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["hosts"][0]["facts"]["redis"]["state"] == "not running"
    assert "redis: not running" in facts.stdout
    assert not any(PASSWORD.encode() in blob for blob in received)
    assert received == []  # nothing was sent to a socket no redis-server owns
