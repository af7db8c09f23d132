"""The backup directory is the tool's own (issue 20 item 1): a missing one is created 0700,
an existing one is never chmod'ed, and one other users may write to (like /tmp) is refused
before anything is written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, drifted_redis_conf, write_project


def _project(fleet: Fleet, tmp_path: Path, backup_dir: str) -> Path:
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    hosts_ini = project / "inventory" / "hosts.ini"
    hosts_ini.write_text(hosts_ini.read_text() + f"remediate_backup_dir={backup_dir}\n")
    return project


def test_a_shared_writable_backup_dir_is_refused_and_never_chmoded(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    shared = host.path("/srv/shared-tmp")  # what /tmp is: 1777, other users write there
    shared.mkdir(exist_ok=True)
    os.chmod(shared, 0o1777)
    try:
        project = _project(fleet, tmp_path, "/srv/shared-tmp")
        result = run_cli("apply", "--yes", "--format", "json", env=fleet.env(), cwd=project)
        assert result.returncode == 1, result.stdout + result.stderr
        [report] = json.loads(result.stdout)["hosts"]
        assert report["status"] == "failed"
        assert (
            "backup directory /srv/shared-tmp is not owned by this user or is writable"
            in (report["error"])
        )
        assert shared.stat().st_mode & 0o7777 == 0o1777  # untouched
        assert list(shared.iterdir()) == []  # no lock, no run
        assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
    finally:
        shutil.rmtree(shared)


def test_an_existing_backup_dir_keeps_its_mode_and_a_missing_one_is_created_0700(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    existing = host.path("/srv/backups-0755")
    existing.mkdir(exist_ok=True)
    os.chmod(existing, 0o755)
    created = host.path("/srv/backups-new/nested")
    try:
        first = _project(fleet, tmp_path / "a", "/srv/backups-0755")
        assert run_cli("apply", "--yes", env=fleet.env(), cwd=first).returncode == 0
        assert existing.stat().st_mode & 0o7777 == 0o755
        [run] = list((existing / "runs").iterdir())
        assert (existing / "runs").stat().st_mode & 0o777 == 0o700  # backups: never readable
        assert run.stat().st_mode & 0o777 == 0o700
        assert run_cli("rollback", "--last", "--yes", env=fleet.env(), cwd=first).returncode == 0
        second = _project(fleet, tmp_path / "b", "/srv/backups-new/nested")
        assert run_cli("apply", "--yes", env=fleet.env(), cwd=second).returncode == 0
        assert created.stat().st_mode & 0o777 == 0o700
        assert created.parent.stat().st_mode & 0o777 == 0o700
        assert run_cli("rollback", "--last", "--yes", env=fleet.env(), cwd=second).returncode == 0
    finally:
        shutil.rmtree(existing, ignore_errors=True)
        shutil.rmtree(host.path("/srv/backups-new"), ignore_errors=True)
        drift(fleet)
