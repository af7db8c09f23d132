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
#: stops the worker the test started (its pidfile /tmp/app2.pid) and waits until it is gone
STOP_APP2 = (
    'p=$(cat /tmp/app2.pid); kill "$p"; rm -f /tmp/app2.log; i=0; '
    'while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done'
)


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


def test_apply_then_verify_passes_through_the_relay_and_straight_to_redis(
    vfleet: Fleet, relay: IdleRelay, tmp_path: Path
) -> None:
    # the shipped playbook, its values scaled down below the relay's limit
    directory = project(
        vfleet,
        relay,
        tmp_path,
        celery_redis_health_check_interval=1,
        celery_redis_socket_timeout=2,
        celery_redis_retry_on_timeout=True,
    )
    applied = run_cli("apply", "--yes", env=vfleet.env(), cwd=directory)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    metrics = tmp_path / "verify.prom"
    result = verify(
        vfleet,
        directory,
        "--idle",
        IDLE,
        "--budget",
        "12",
        "--format",
        "json",
        "--metrics",
        str(metrics),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "verify" and doc["exit_code"] == 0
    hosts = {h["host"]: h for h in doc["hosts"]}
    for name in ("host1", "host2"):  # host1 through the relay, host2 straight to Redis
        host = hosts[name]
        assert host["status"] == "pass" and host["passed"], host
        assert 0 <= host["consume_seconds"] < 12
        assert host["options"]["health_check_interval"] == "1"
        assert host["options"]["socket_timeout"] == "2"
        assert host["versions"]["kombu"] == "5.7.0"
        broker = host["broker"]
        assert broker["samples"] >= 3 and broker["connections"] >= 1
        # the consuming connection carried traffic all through the window (BRPOP every second)
        assert broker["consumer_max_idle_seconds"] is not None
        assert broker["consumer_max_idle_seconds"] < LIMIT, broker
        assert any("keepalive" in timer for timer in broker["keepalive"]), broker
        assert host["left_behind"] == []
        assert leftovers(vfleet.hosts[int(name[-1]) - 1]) == NOTHING
    assert hosts["host1"]["idle_limit_seconds"] == LIMIT
    text = metrics.read_text()
    assert 'remediate_verify_pass{host="host1"} 1' in text
    assert 'remediate_verify_pass{host="host2"} 1' in text
    assert 'remediate_verify_consume_seconds{host="host1"}' in text
    assert "remediate_verify_timestamp_seconds " in text


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_killed_or_interrupted_controller_leaves_no_canary_queue_or_temp_file(
    vfleet: Fleet, relay: IdleRelay, tmp_path: Path, sig: signal.Signals
) -> None:
    directory = project(vfleet, relay, tmp_path)
    host = vfleet.hosts[1]
    exe = Path(sys.executable).with_name("remediate")
    controller = subprocess.Popen(
        [str(exe), "verify", "-l", host.name, "--idle", "60"],
        cwd=directory,
        env=vfleet.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a runner started in the background ignores SIGINT, and so would the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the canary runs and has declared its queue
            state = leftovers(host)
            if state["processes"] and state["keys"] and state["tmp"]:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"the canary never ran: {leftovers(host)}")
    finally:
        os.kill(controller.pid, sig)
        out, err = controller.communicate(timeout=60)
    if sig == signal.SIGINT:  # the controller stopped and removed every canary before exiting
        assert controller.returncode == 130, out + err
        assert leftovers(host) == NOTHING
    deadline = time.monotonic() + 45
    while leftovers(host) != NOTHING and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftovers(host) == NOTHING


def test_the_interpreter_comes_from_a_running_worker_else_the_host_fails_clearly(
    vfleet: Fleet, relay: IdleRelay, tmp_path: Path
) -> None:
    directory = project(vfleet, relay, tmp_path)
    hosts = directory / "inventory" / "hosts.ini"
    hosts.write_text(hosts.read_text().replace(f" celery_python={celery_python(CURRENT)}", ""))
    host = vfleet.hosts[1]
    result = verify(vfleet, directory, "-l", host.name, "--idle", "1", "--budget", "10")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "host2: ERROR: no interpreter for the canary: set the host variable celery_python" in (
        result.stdout
    )
    assert leftovers(host) == NOTHING
    # a real worker of the app, started as operators do (its console script, detached)
    write(
        host,
        "/srv/app/tasks.py",
        "from celery import Celery\napp = Celery('tasks')\napp.config_from_object('celeryconfig')\n",
    )
    celery = celery_python(CURRENT).with_name("celery")
    host.exec(
        [
            "sh",
            "-c",
            (
                f"cd /srv/app && {celery} -A tasks worker -c 1 --pidfile /tmp/app.pid "
                "--logfile /tmp/app.log --detach"
            ),
        ]
    )
    try:
        result = verify(vfleet, directory, "-l", host.name, "--idle", "1", "--budget", "10")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"({celery_python(CURRENT)})" in result.stdout  # the venv's, not /usr/bin's
    finally:
        host.exec(["sh", "-c", 'kill "$(cat /tmp/app.pid)"; rm -f /tmp/app.log'], check=False)
    assert leftovers(host) == NOTHING


def test_a_host_without_a_managed_file_verifies_its_running_workers_config(
    vfleet: Fleet, relay: IdleRelay, tmp_path: Path
) -> None:
    """host2 is in no workers group (no managed Celery file) but runs a worker in /srv/app whose
    app loads config_from_object('celeryconfig'): verify uses that file; host1 runs no worker
    and manages no file: skipped, and alone it is a usage error."""
    directory = project(vfleet, relay, tmp_path)
    hosts = directory / "inventory" / "hosts.ini"
    text = (
        hosts.read_text().replace("[workers]", "[redis]").replace("[workers:vars]", "[redis:vars]")
    )
    hosts.write_text(text.replace(f" celery_python={celery_python(CURRENT)}", ""))
    alone = verify(vfleet, directory, "-l", vfleet.hosts[0].name, "--idle", "1")
    assert alone.returncode == 64, alone.stdout + alone.stderr
    assert "runs a celery worker: nothing to verify" in alone.stderr
    host = vfleet.hosts[1]
    write(
        host,
        "/srv/app/tasks.py",
        "from celery import Celery\napp = Celery('tasks')\napp.config_from_object('celeryconfig')\n",
    )
    celery = celery_python(CURRENT).with_name("celery")
    host.exec(
        [
            "sh",
            "-c",
            (
                f"cd /srv/app && {celery} -A tasks worker -c 1 --pidfile /tmp/app2.pid "
                "--logfile /tmp/app2.log --detach"
            ),
        ]
    )
    deadline = time.monotonic() + 30
    while not host.path("/tmp/app2.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        result = verify(vfleet, directory, "--idle", "1", "--budget", "10", "--format", "json")
        assert result.returncode == 0, result.stdout + result.stderr
        doc = json.loads(result.stdout)
        assert doc["skipped"] == [vfleet.hosts[0].name]
        (checked,) = doc["hosts"]
        assert checked["config_path"] == "/srv/app/celeryconfig.py", checked
    finally:
        host.exec(
            [
                "sh",
                "-c",
                STOP_APP2,
            ],
            check=False,
        )
    assert leftovers(host) == NOTHING
