"""``ansible_connection: redis`` against a fleet host's real redis-server (the hosts share the
machine's network: the controller reaches 127.0.S.N:6379 directly), as a managed broker is
reached: over the Redis protocol only, no shell."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import _subnet, run_cli
from tests.fleet import Fleet, FleetHost
from tests.scenario import PASSWORD, ROOT, drift, drifted_redis_conf, write


@pytest.fixture(scope="module")
def service_host() -> Iterator[FleetHost]:
    with Fleet(1, redis=True, subnet=_subnet(8)) as fleet:
        drift(fleet)
        yield fleet.hosts[0]


def project(directory: Path, host: FleetHost, extra: str = "") -> Path:
    (directory / "inventory").mkdir(parents=True, exist_ok=True)
    (directory / "inventory" / "hosts.ini").write_text(
        "[redis]\n"
        f"cache ansible_connection=redis ansible_host={host.address} ansible_port=6379 {extra}\n"
    )
    shutil.copytree(ROOT / "templates", directory / "templates", dirs_exist_ok=True)
    (directory / "playbooks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "playbooks" / "site.yml", directory / "playbooks" / "site.yml")
    return directory


def plan_of(directory: Path) -> dict:  # type: ignore[type-arg]
    done = run_cli("plan", "--format", "json", cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["hosts"][0]  # type: ignore[no-any-return]


def test_audited_over_the_protocol_and_apply_refuses(
    service_host: FleetHost, tmp_path: Path
) -> None:
    where = f"redis://{service_host.address}:6379"
    directory = project(tmp_path, service_host, f"redis_password={PASSWORD}")
    waiting = redis.Redis(host=service_host.address, password=PASSWORD, socket_timeout=10)
    worker = threading.Thread(target=waiting.blpop, args=(["celery"], 3), daemon=True)
    worker.start()  # a connection waiting for work, as a Celery worker's does
    threading.Event().wait(0.3)
    plan = plan_of(directory)
    worker.join()
    facts = plan["facts"]["redis"]
    assert facts["state"] == "read" and facts["via"].startswith("redis protocol")
    assert facts["config"]["timeout"] == "300" and facts["config"]["tcp-keepalive"] == "0"
    assert facts["celery_like"] >= 1
    assert {(f["rule"], f["path"]) for f in plan["findings"]} >= {
        ("RDS001", where),
        ("RDS002", where),
    }
    assert PASSWORD not in json.dumps(plan)
    assert plan["files"] == [] and plan["runtime_changes"] == []

    applied = run_cli("apply", "--yes", cwd=directory)
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert "apply refuses" in applied.stdout and "parameter group" in applied.stdout
    assert redis.Redis(
        host=service_host.address, password=PASSWORD, decode_responses=True
    ).config_get("timeout") == {"timeout": "300"}


def test_config_renamed_away_audits_what_info_tells_and_says_what_it_cannot(
    service_host: FleetHost, tmp_path: Path
) -> None:
    service_host.stop_redis()
    write(
        service_host,
        "/etc/redis/redis.conf",
        drifted_redis_conf() + b'rename-command CONFIG ""\n',
        0o640,
        "redis",
    )
    service_host.start_redis()
    try:
        directory = project(tmp_path, service_host, f"redis_password={PASSWORD}")
        plan = plan_of(directory)
        facts = plan["facts"]["redis"]
        assert facts["state"].startswith("unknown: CONFIG GET refused")
        assert facts["config"]["maxmemory-policy"] == "noeviction"  # from INFO memory
        assert "timeout" not in facts["config"]
        (not_read,) = [f for f in plan["findings"] if f["rule"] == "SVC001"]
        assert not_read["severity"] == "warning"
        assert "CONFIG GET is refused" in not_read["message"]
        assert "Not audited: timeout, tcp-keepalive" in not_read["message"]
        assert not any(f["rule"] in ("RDS001", "RDS002") for f in plan["findings"])
        audit = run_cli("audit", cwd=directory)
        assert audit.returncode != 0, audit.stdout  # never a false "ok"
    finally:
        service_host.stop_redis()
        write(service_host, "/etc/redis/redis.conf", drifted_redis_conf(), 0o640, "redis")
        service_host.start_redis()


def test_a_wrong_password_fails_the_host(service_host: FleetHost, tmp_path: Path) -> None:
    directory = project(tmp_path, service_host, "redis_password=not-it")
    done = run_cli("plan", cwd=directory)
    assert done.returncode == 1
    assert "authentication failed" in done.stdout + done.stderr
    assert "not-it" not in done.stdout + done.stderr
