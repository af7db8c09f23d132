"""Issue 18: a real podman container reached with ``ansible_connection: containers.podman.podman``.

The container runs redis-server from the drifted Debian redis.conf and holds the drifted
celeryconfig.py; it has no network (``--network none``), so the tool reaches its Redis only
through the TCP relay over ``podman exec -i``. ``plan`` finds the same drift as over SSH on a
fleet host with the same files, ``apply`` fixes it (files and live values), ``rollback``
restores the files byte for byte and the live values. /srv/app is a volume and
/etc/redis/redis.conf is baked into the image: the facts and apply's messages say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _subnet, run_cli
from tests.containers import (
    container_file,
    ensure_image,
    podman,
    remove_container,
    run_container,
    wait_for,
)
from tests.fleet import Fleet
from tests.scenario import CELERYCONFIG, PASSWORD, ROOT, drift, drifted_redis_conf, fleet_playbook

REDIS_START = [
    "redis-server",
    "/etc/redis/redis.conf",
    "--daemonize",
    "no",
    "--logfile",
    "",
    "--pidfile",
    "/run/redis/redis-server.pid",
]


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/test installs it)")
    image = ensure_image(
        {
            "/etc/redis/redis.conf": (drifted_redis_conf(), 0o640, 100, 101),  # redis:redis
            "/srv/fleet/restart-redis": b"exit 0\n",
            "/run/redis/.keep": b"",
            "/var/log/redis/.keep": b"",
            "/var/lib/redis/.keep": b"",
        }
    )
    app = tmp_path_factory.mktemp("app-volume")
    (app / "celeryconfig.py").write_text(CELERYCONFIG)
    os.chmod(app / "celeryconfig.py", 0o640)
    name = f"remediate-test-{os.getpid()}"
    run_container(name, image, REDIS_START, volumes={str(app): "/srv/app"})
    try:
        wait_for(name, ["redis-cli", "-a", PASSWORD, "--no-auth-warning", "ping"])
        yield name, app
    finally:
        remove_container(name)


def project(directory: Path, hosts: str, extra: str = "") -> Path:
    (directory / "inventory").mkdir(parents=True, exist_ok=True)
    (directory / "inventory" / "hosts.ini").write_text(
        f"[fleet]\n{hosts}\n\n[redis:children]\nfleet\n\n[workers:children]\nfleet\n{extra}"
    )
    shutil.copytree(ROOT / "templates", directory / "templates", dirs_exist_ok=True)
    (directory / "playbooks").mkdir(exist_ok=True)
    (directory / "playbooks" / "site.yml").write_text(fleet_playbook())
    return directory


def summary(plan: dict[str, Any]) -> dict[str, Any]:
    """What a host's plan says is wrong, without what names the host."""
    return {
        "files": sorted(
            (f["path"], tuple(sorted(c["setting"] for c in f["changes"]))) for f in plan["files"]
        ),
        "runtime": sorted((r["setting"], r["live"], r["desired"]) for r in plan["runtime_changes"]),
        "findings": sorted((f["rule"], f["path"]) for f in plan["findings"]),
    }


def redis_cli(name: str, *args: str) -> str:
    out = podman("exec", name, "redis-cli", "-a", PASSWORD, "--no-auth-warning", *args)
    return out.stdout.strip()


def test_plan_apply_rollback_through_podman_match_ssh(
    container: tuple[str, Path], tmp_path: Path
) -> None:
    name, app = container
    before_conf = container_file(name, "/etc/redis/redis.conf")
    before_celery = (app / "celeryconfig.py").read_bytes()
    inventory_line = f"box ansible_connection=containers.podman.podman ansible_host={name}"
    podman_project = project(tmp_path / "podman", inventory_line)
    planned = run_cli("plan", "--format", "json", cwd=podman_project)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = json.loads(planned.stdout)["hosts"][0]
    assert plan["status"] == "changed", plan

    # the same files on an SSH host of the real fleet: the same drift, file for file
    with Fleet(1, redis=True, subnet=_subnet(9)) as fleet:
        drift(fleet)
        host = fleet.hosts[0]
        ssh_project = project(
            tmp_path / "ssh",
            f"h ansible_host={host.address} redis_host={host.address}",
            f"\n[all:vars]\nansible_user=root\nansible_ssh_private_key_file={fleet.client_key}\n",
        )
        over_ssh = run_cli("plan", "--format", "json", env=fleet.env(), cwd=ssh_project)
        assert over_ssh.returncode == 0, over_ssh.stdout + over_ssh.stderr
        ssh_plan = json.loads(over_ssh.stdout)["hosts"][0]
    mine, theirs = summary(plan), summary(ssh_plan)
    assert set(mine["findings"]) ^ set(theirs["findings"]) == set(), (
        set(mine["findings"]) - set(theirs["findings"]),
        set(theirs["findings"]) - set(mine["findings"]),
    )
    assert mine == theirs
    assert ("timeout", "300", "0") in summary(plan)["runtime"]

    # where each managed file lives: on a volume, or baked into the image
    container_facts = plan["facts"]["container"]
    assert container_facts["runtime"] == "podman" and container_facts["name"] == name
    assert container_facts["baked"] == ["/etc/redis/redis.conf"]
    assert container_facts["volumes"] == {"/srv/app/celeryconfig.py": "/srv/app"}

    applied = run_cli("apply", "--yes", cwd=podman_project)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "/etc/redis/redis.conf is baked into the image" in applied.stdout
    assert "will not survive" in applied.stdout
    assert "celeryconfig.py is baked" not in applied.stdout
    assert redis_cli(name, "config", "get", "timeout").splitlines() == ["timeout", "0"]
    assert b"\ntimeout 0\n" in container_file(name, "/etc/redis/redis.conf")
    assert (app / "celeryconfig.py").read_bytes() != before_celery
    again = json.loads(run_cli("plan", "--format", "json", cwd=podman_project).stdout)["hosts"][0]
    assert again["status"] == "ok", again

    undone = run_cli("rollback", "--last", "--yes", cwd=podman_project)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert container_file(name, "/etc/redis/redis.conf") == before_conf
    assert (app / "celeryconfig.py").read_bytes() == before_celery
    assert redis_cli(name, "config", "get", "timeout").splitlines() == ["timeout", "300"]


def test_a_missing_container_is_unreachable(tmp_path: Path) -> None:
    gone = project(tmp_path, "box ansible_connection=podman ansible_host=remediate-no-such-ctr")
    planned = run_cli("plan", cwd=gone)
    assert planned.returncode != 0
    assert "unreachable" in planned.stdout
    assert "remediate-no-such-ctr" in planned.stdout + planned.stderr


def test_an_image_without_a_relay_says_so(tmp_path: Path) -> None:
    image = ensure_image({"/etc/redis/redis.conf": b"port 6379\n"}, with_relay=False)
    name = f"remediate-test-norelay-{os.getpid()}"
    run_container(name, image, ["redis-server", "/etc/redis/redis.conf"])
    try:
        wait_for(name, ["redis-cli", "ping"])
        bare = project(tmp_path, f"box ansible_connection=podman ansible_host={name}")
        facts = run_cli("facts", "--format", "json", cwd=bare)
        assert facts.returncode in (0, 1), facts.stderr
        redis_facts = json.loads(facts.stdout)["hosts"][0]["runtime"]["redis"]
        assert redis_facts["state"].startswith("unknown")
        assert "no TCP relay in the container" in redis_facts["error"]
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)
