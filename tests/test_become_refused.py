"""A login that sudo refuses is *failed* in every command, with the same words (issue 20
item 18): the host was reached, so it is never reported unreachable."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, drifted_redis_conf, write_project

REFUSED = "sudo refused to run commands as nosuchuser for this login: sudo: unknown user nosuchuser"


def test_sudo_refusal_is_failed_with_one_wording_in_every_command(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    hosts_ini = project / "inventory" / "hosts.ini"
    hosts_ini.write_text(
        hosts_ini.read_text() + "ansible_become=true\nansible_become_user=nosuchuser\n"
    )
    commands = [
        ["plan"],
        ["apply", "--yes"],
        ["facts"],
        ["audit"],
        ["runs"],
        ["rollback", "--last", "--yes"],
    ]
    for command in commands:
        result = run_cli(*command, env=fleet.env(), cwd=project)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        output = result.stdout + result.stderr
        assert REFUSED in output, (command, output)
        assert "unreachable=1" not in output and "UNREACHABLE" not in output
    applied = json.loads(
        run_cli("apply", "--yes", "--format", "json", env=fleet.env(), cwd=project).stdout
    )
    assert applied["hosts"][0]["status"] == "failed"
    assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
