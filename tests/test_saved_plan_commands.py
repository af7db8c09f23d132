"""A saved plan records the exact handler commands and validators; ``apply --plan`` refuses
when the playbook would now run something else (issue 20 item 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, drifted_redis_conf, fleet_playbook, write_project

CHANGES = {
    "handler": (
        'command: "true"',
        'command: "touch /srv/fleet/handler-ran"',
        "the commands of its handlers changed since the plan was saved",
    ),
    "validate": (
        "      template: redis.conf.j2\n",
        "      template: redis.conf.j2\n      validate: touch /srv/fleet/validate-ran; true %s\n",
        "its validate command changed since the plan was saved",
    ),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_a_saved_plan_is_refused_when_its_commands_changed(
    fleet: Fleet, tmp_path: Path, what: str
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    saved = run_cli("plan", "--out", "plan.json", env=fleet.env(), cwd=project)
    assert saved.returncode in (0, 2), saved.stdout + saved.stderr
    files = json.loads((project / "plan.json").read_text())["hosts"][0]["files"]
    assert any(
        c.startswith("restart rabbitmq: true; check:") for f in files for c in f["handler_commands"]
    ), files
    old, new, reason = CHANGES[what]
    (project / "playbooks" / "site.yml").write_text(fleet_playbook().replace(old, new, 1))
    result = run_cli(
        "apply", "--plan", "plan.json", "--yes", "--format", "json", env=fleet.env(), cwd=project
    )
    assert result.returncode == 1, result.stdout + result.stderr
    [report] = json.loads(result.stdout)["hosts"]
    assert report["status"] == "failed" and reason in report["error"], report["error"]
    assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
    assert not host.path("/srv/fleet/handler-ran").exists()
    assert not host.path("/srv/fleet/validate-ran").exists()
