"""Real Celery workers on a fleet host: `facts` lists them with their versions, sockets and
keepalive state; `plan` judges the old one's packages; after the celeryconfig fix is applied
(`apply --yes`, the shipped celery play; its restart handler is `true` on test hosts) CEL016
says a restart is pending, and restarting the workers clears it.

One host of the session fleet runs two workers against its own redis-server, both from
/srv/app (``-A tasks``, ``config_from_object('celeryconfig')``): one from the OLD virtualenv
(celery 5.3.6, kombu 5.3.7, redis-py 4.6.0: PKG004, which stands for PKG001 too) and one from CURRENT (celery and
kombu 5.7.0). The hosts have no systemd: SYS002 from a worker's own unit is tested through the
probe's parser with a recorded cgroup line (tests/test_worker_probe.py) and the planner
(tests/test_worker_host_findings.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.celery_env import CURRENT, OLD, celery_python
from tests.conftest import run_cli
from tests.fleet import ALIVE, Fleet, FleetHost
from tests.scenario import PASSWORD, fleet_playbook, redis_client, write

APP = "/srv/app"
TASKS = """from celery import Celery

app = Celery("tasks")
app.config_from_object("celeryconfig")


@app.task
def add(x, y):
    return x + y
"""

#: Starts (or restarts) one worker by its name: old or new (the handler runs it for both).
START_WORKER = (
    ALIVE
    + """name=$1; python=$2
pid=$(cat "/srv/app/$name.pid" 2>/dev/null)
if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
  while alive "$pid"; do sleep 0.1; done
fi
rm -f "/srv/app/$name.pid" "/srv/app/$name.log"
cd /srv/app && exec "$python" -m celery -A tasks worker -l INFO -c 1 -n "$name@%h" -Q "celery,$name" \\
  --pidfile "/srv/app/$name.pid" --logfile "/srv/app/$name.log" --detach
"""
)


def _broker_url(host: FleetHost) -> str:
    """The host's redis-server as a broker URL, with the password it runs with, if any."""
    needs_password = redis_client(host).config_get("requirepass").get("requirepass")
    return f"redis://{':' + PASSWORD + '@' if needs_password else ''}{host.address}:6379/0"


def _wait_ready(host: FleetHost, name: str, timeout: float = 60) -> int:
    """The worker's pid once its log says it is ready (connected and consuming)."""
    log, pidfile = host.path(f"{APP}/{name}.log"), host.path(f"{APP}/{name}.pid")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.exists() and log.exists() and " ready." in log.read_text(errors="replace"):
            return int(pidfile.read_text().strip())
        time.sleep(0.2)
    raise AssertionError(f"worker {name} not ready: {log.read_text() if log.exists() else ''}")


@pytest.fixture
def workers_host(fleet: Fleet, tmp_path: Path) -> Iterator[tuple[FleetHost, Path, dict[str, str]]]:
    host = fleet.hosts[-1]
    pythons = {"old": str(celery_python(OLD)), "new": str(celery_python(CURRENT))}
    saved = {
        p: host.path(p).read_bytes() for p in (f"{APP}/celeryconfig.py",) if host.path(p).exists()
    }
    write(host, f"{APP}/tasks.py", TASKS)
    write(host, f"{APP}/celeryconfig.py", f'broker_url = "{_broker_url(host)}"\n', 0o640)
    write(host, f"{APP}/start-worker", START_WORKER)
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    (project / "inventory" / "hosts.ini").write_text(
        f"[workers]\n{host.name} ansible_host={host.address} redis_host={host.address} "
        "remediate_path_idle_timeout=20\n\n[all:vars]\nansible_user=root\n"
        f"ansible_ssh_private_key_file={fleet.client_key}\n"
    )
    (project / "playbooks").mkdir()
    (project / "playbooks" / "site.yml").write_text(fleet_playbook())  # restart celery: "true"
    (project / "templates").symlink_to(Path(__file__).resolve().parents[1] / "templates")
    try:
        for name, python in pythons.items():
            host.exec(["sh", f"{APP}/start-worker", name, python], timeout=60)
        yield host, project, pythons
    finally:
        for name in pythons:
            host.exec(
                [
                    "sh",
                    "-c",
                    ALIVE + f'pid=$(cat {APP}/{name}.pid 2>/dev/null) && kill "$pid" '
                    '&& while alive "$pid"; do sleep 0.1; done; true',
                ],
                check=False,
                timeout=60,
            )
        for leftover in ("tasks.py", "start-worker", "old.pid", "new.pid", "old.log", "new.log"):
            host.path(f"{APP}/{leftover}").unlink(missing_ok=True)
        for path, content in saved.items():
            write(host, path, content, 0o640)
        if not saved:
            host.path(f"{APP}/celeryconfig.py").unlink(missing_ok=True)


def _cli(fleet: Fleet, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=fleet.env(), cwd=project)


def _findings(fleet: Fleet, project: Path) -> list[dict[str, Any]]:
    result = _cli(fleet, project, "plan", "--format", "json")
    assert result.returncode in (0, 2), result.stdout + result.stderr
    return list(json.loads(result.stdout)["hosts"][0]["findings"])


def _by_pid(workers: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {w["pid"]: w for w in workers}


def test_two_real_workers_facts_plan_apply_and_restart(
    fleet: Fleet, workers_host: tuple[FleetHost, Path, dict[str, str]]
) -> None:
    host, project, pythons = workers_host
    old_pid, new_pid = _wait_ready(host, "old"), _wait_ready(host, "new")

    # facts: both workers, their interpreters, exact versions and broker sockets without keepalive
    result = _cli(fleet, project, "facts", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    workers = _by_pid(json.loads(result.stdout)["hosts"][0]["runtime"]["workers"])
    assert set(workers) == {old_pid, new_pid}
    old, new = workers[old_pid], workers[new_pid]
    assert old["interpreter"] == pythons["old"] and new["interpreter"] == pythons["new"]
    assert old["versions"] == {
        "celery": "5.3.6",
        "kombu": "5.3.7",
        "redis": "4.6.0",
        "amqp": old["versions"]["amqp"],
        "librabbitmq": None,
    }
    assert (new["versions"]["celery"], new["versions"]["kombu"]) == ("5.7.0", "5.7.0")
    assert old["exe"].startswith("/usr/bin/python3")  # the venv's python, resolved
    for worker, name in ((old, "old"), (new, "new")):
        assert worker["pool"] is None and worker["concurrency"] == 1  # prefork by default
        assert worker["queues"] == ["celery", name] and worker["app"] == "tasks"
        assert worker["cwd"] == APP and worker["user"] == "root"
        assert worker["broker_connections"], worker
        assert {c["peer"] for c in worker["broker_connections"]} == {f"{host.address}:6379"}
        assert {c["keepalive"] for c in worker["broker_connections"]} == {"off"}
        assert worker["supervisor"]["kind"] == "none"
    text = _cli(fleet, project, "facts").stdout
    assert f"celery worker pid {old_pid} user root cwd {APP}" in text
    assert "celery 5.3.6, kombu 5.3.7, redis 4.6.0" in text
    assert f"{host.address}:6379 keepalive off" in text

    # plan: PKG for the old worker only; X004 from the host's path idle limit (20 s < 25 s)
    findings = _findings(fleet, project)
    pkg = [f for f in findings if f["rule"].startswith("PKG")]
    assert "PKG004" in {f["rule"] for f in pkg}  # kombu < 5.4.0 (PKG001 is folded into it)
    assert all(f"pid {old_pid}" in f["message"] for f in pkg), pkg
    assert not any(f"pid {new_pid}" in f["message"] for f in pkg)
    assert "X004" in {f["rule"] for f in findings}
    assert "CEL016" not in {f["rule"] for f in findings}  # the file does not ask for keepalive yet

    # the fix applied by the celery play, whose restart handler does nothing here: pending
    applied = _cli(fleet, project, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert b"socket_keepalive" in host.path(f"{APP}/celeryconfig.py").read_bytes()
    findings = _findings(fleet, project)
    cel016 = [f for f in findings if f["rule"] == "CEL016"]
    assert {int(f["message"].split("pid ")[1].split()[0]) for f in cel016} == {old_pid, new_pid}
    assert all("started before the change" in f["message"] for f in cel016)

    # the test restarts both workers: keepalive on every broker socket, CEL016 gone
    for name, python in pythons.items():
        host.exec(["sh", f"{APP}/start-worker", name, python], timeout=60)
    old_pid, new_pid = _wait_ready(host, "old"), _wait_ready(host, "new")
    result = _cli(fleet, project, "facts", "--format", "json")
    workers = _by_pid(json.loads(result.stdout)["hosts"][0]["runtime"]["workers"])
    assert set(workers) == {old_pid, new_pid}
    for worker in workers.values():
        assert {c["keepalive"] for c in worker["broker_connections"]} == {"on"}, worker
    findings = _findings(fleet, project)
    assert "CEL016" not in {f["rule"] for f in findings}
    assert "PKG004" in {f["rule"] for f in findings if f"pid {old_pid}" in f["message"]}
