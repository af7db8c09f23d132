"""Host variables the tool reads are checked for type before any host is contacted
(issue 20 item 13): one clear error, nothing written on any host."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, drifted_redis_conf, write_project

BAD = [
    ("remediate_keep_runs=ten", "remediate_keep_runs 'ten' is not a whole number from 1 to 10000"),
    ("remediate_keep_runs=0", "remediate_keep_runs '0' is not a whole number from 1 to 10000"),
    ("redis_port=six", "redis_port 'six' is not a whole number from 1 to 65535"),
    ("redis_port=70000", "redis_port '70000' is not a whole number from 1 to 65535"),
    ("ansible_become=maybe", "ansible_become 'maybe' is not a boolean"),
    ("remediate_backup_dir=backups", "remediate_backup_dir 'backups' is not an absolute path"),
]


@pytest.mark.parametrize(("assignment", "message"), BAD)
def test_a_bad_host_variable_stops_everything_before_any_write(
    fleet: Fleet, tmp_path: Path, assignment: str, message: str
) -> None:
    drift(fleet)
    good, bad = fleet.hosts[0], fleet.hosts[1]
    project = write_project(fleet, tmp_path, [good, bad])
    hosts_ini = project / "inventory" / "hosts.ini"
    hosts_ini.write_text(
        hosts_ini.read_text().replace(
            f"{bad.name} ansible_host={bad.address}",
            f"{bad.name} ansible_host={bad.address} {assignment}",
        )
    )
    for command in (["apply", "--yes"], ["plan"], ["rollback", "--last", "--yes"]):
        result = run_cli(*command, env=fleet.env(), cwd=project)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert message in result.stderr and bad.name in result.stderr, result.stderr
        assert "internal error" not in result.stderr
    for host in (good, bad):
        assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
        assert not host.path("/var/lib/remediate/runs").exists()
