"""A requirepass change never locks anyone out (issue 20 item 2): it is refused live (never
CONFIG SET), applied by restarting redis-server from the written file, checked with the new
password, rolled back the same way; no run manifest ever holds a password."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from tests.conftest import run_cli
from tests.fleet import Fleet, FleetHost
from tests.scenario import PASSWORD, drift, drifted_redis_conf, write_project

NEW_PASSWORD = "N3w-r3dis-pw-after-restart"


def _accepts(host: FleetHost, password: str) -> bool:
    client = redis.Redis(host=host.address, port=6379, password=password, socket_timeout=5)
    try:
        return bool(client.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return False


def _manifests(host: FleetHost) -> bytes:
    runs = host.path("/var/lib/remediate/runs")
    return b"".join(p.read_bytes() for p in runs.rglob("manifest.json"))


def test_a_password_change_is_applied_by_restart_and_rolled_back(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    template = project / "templates" / "redis.conf.j2"
    template.write_text(template.read_text() + f"requirepass {NEW_PASSWORD}\n")
    pid = host.redis_pid()
    try:
        plan = run_cli("plan", "--format", "json", env=fleet.env(), cwd=project)
        [file] = [f for f in json.loads(plan.stdout)["hosts"][0]["files"] if f["kind"] == "redis"]
        effects = {c["setting"]: (c["effect"], c["how"]) for c in file["changes"]}
        assert effects["requirepass"][0] == "restart", effects
        assert "never CONFIG SET live" in effects["requirepass"][1]
        assert "requirepass" not in [
            r["setting"] for r in json.loads(plan.stdout)["hosts"][0]["runtime_changes"]
        ]
        applied = run_cli("apply", "--yes", "--format", "json", env=fleet.env(), cwd=project)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert json.loads(applied.stdout)["hosts"][0]["status"] == "changed"
        assert host.redis_pid() != pid  # restarted from the file, not changed live
        assert _accepts(host, NEW_PASSWORD) and not _accepts(host, PASSWORD)
        assert (
            f"requirepass {NEW_PASSWORD}".encode()
            in host.path("/etc/redis/redis.conf").read_bytes()
        )
        undo = run_cli("rollback", "--last", "--yes", env=fleet.env(), cwd=project)
        assert undo.returncode == 0, undo.stdout + undo.stderr
        assert _accepts(host, PASSWORD) and not _accepts(host, NEW_PASSWORD)
        assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
        kept = _manifests(host)
        assert kept and PASSWORD.encode() not in kept and NEW_PASSWORD.encode() not in kept
    finally:
        if not _accepts(host, PASSWORD):
            host.path("/etc/redis/redis.conf").write_bytes(drifted_redis_conf())
            host.exec(["sh", "/srv/fleet/restart-redis"])
        drift(fleet)
