"""`remediate verify` on the real fleet: a real canary worker (Celery from a venv the hosts
run), a real redis-server in each host, and the idle-dropping relay on the path of one host.

host1's broker URL points at a relay on the controller (the hosts share the machine's network
namespace) that forgets flows idle longer than LIMIT seconds; host2's goes straight to its own
redis-server. Idle windows and budgets are a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from remediate.remote.idle_relay import IdleRelay
from tests.celery_env import CURRENT, celery_python
from tests.conftest import run_cli
from tests.fleet import Fleet, FleetHost
from tests.scenario import fleet_playbook, write

PASSWORD = "V3rify-s3cret-pw"
LIMIT = 3.0  # the relay's idle limit
IDLE = "7"  # --idle: longer than the limit
ROOT = Path(__file__).resolve().parents[1]

DRIFTED = """\
\"\"\"Celery settings of the billing workers (drifted: no keepalive, no timeout, no check).\"\"\"
broker_url = "redis://:{password}@{address}:{port}/0"
task_serializer = "json"
broker_connection_retry_on_startup = True
"""


@pytest.fixture(scope="module")
def vfleet() -> Iterator[Fleet]:
    with Fleet(2, redis=True, subnet=71) as running:
        for host in running.hosts:
            server(host).config_set("requirepass", PASSWORD)
        yield running


@pytest.fixture(scope="module")
def relay(vfleet: Fleet) -> Iterator[IdleRelay]:
    with IdleRelay(("127.0.0.1", 0), (vfleet.hosts[0].address, 6379), LIMIT) as running:
        yield running


def server(host: FleetHost) -> redis.Redis:
    """Straight to the host's redis-server, for assertions."""
    for password in (PASSWORD, None):
        client = redis.Redis(host=host.address, port=6379, password=password, socket_timeout=5)
        try:
            client.ping()
            return client
        except redis.AuthenticationError:
            continue
        except redis.ResponseError as exc:
            if "auth" not in str(exc).lower():
                raise
    raise RuntimeError(f"cannot reach redis on {host.name}")


def project(fleet: Fleet, relay: IdleRelay, directory: Path, **extra_vars: object) -> Path:
    """Inventory (group workers), the shipped playbook with test handlers, the templates; each
    host's celeryconfig.py drifted. host1 goes through the relay, host2 straight to Redis."""
    python = celery_python(CURRENT)
    relay_port = relay.address[1]
    lines = ["[workers]"]
    for host in fleet.hosts:
        lines.append(
            f"{host.name} ansible_host={host.address} ansible_user=root "
            f"ansible_ssh_private_key_file={fleet.client_key} celery_python={python}"
        )
    lines += ["", "[workers:vars]"] + [f"{k}={v}" for k, v in extra_vars.items()]
    lines += ["", "[via_relay]", fleet.hosts[0].name, "", "[via_relay:vars]"]
    lines += [f"remediate_path_idle_timeout={LIMIT:g}", ""]
    (directory / "inventory").mkdir(parents=True, exist_ok=True)
    (directory / "inventory" / "hosts.ini").write_text("\n".join(lines))
    subprocess.run(["cp", "-r", str(ROOT / "templates"), str(directory)], check=True)
    (directory / "playbooks").mkdir(exist_ok=True)
    (directory / "playbooks" / "site.yml").write_text(fleet_playbook())
    for host in fleet.hosts:
        address, port = ("127.0.0.1", relay_port) if host.index == 1 else (host.address, 6379)
        write(
            host,
            "/srv/app/celeryconfig.py",
            DRIFTED.format(password=PASSWORD, address=address, port=port),
            0o640,
        )
    return directory


def verify(fleet: Fleet, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("verify", *args, env=fleet.env(), cwd=directory, timeout=240)


def canary_pids(host: FleetHost) -> list[int]:
    """Processes of the host that run a canary (its module on the command line)."""
    found = []
    for proc in Path(f"/proc/{host.init}/root/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"remediate_canary" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def leftovers(host: FleetHost) -> dict[str, list[str]]:
    return {
        "processes": [str(p) for p in canary_pids(host)],
        "keys": sorted(k.decode() for k in server(host).keys("*remediate.verify*")),
        "tmp": sorted(p.name for p in host.path("/tmp").glob("remediate-verify.*")),
    }


NOTHING: dict[str, list[str]] = {"processes": [], "keys": [], "tmp": []}


def test_drifted_config_behind_an_idle_dropping_path_fails_and_names_the_cause(
    vfleet: Fleet, relay: IdleRelay, tmp_path: Path
) -> None:
    directory = project(vfleet, relay, tmp_path)
    dropped = relay.stats().dropped_flows
    result = verify(vfleet, directory, "-l", "host1", "--idle", IDLE, "--budget", "12")
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert PASSWORD not in out
    assert "host1: FAIL: not consumed within 12 s after an idle 7 s" in out, out
    assert "CEL005" in out and "X004" in out, out
    assert "transport options lack socket_timeout, health_check_interval" in out, out
    assert "kombu 5.7.0" in out and "celery 5.7.0" in out, out
    assert relay.stats().dropped_flows > dropped  # the path really forgot a canary's flow
    assert leftovers(vfleet.hosts[0]) == NOTHING
