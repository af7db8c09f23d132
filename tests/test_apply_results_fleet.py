"""What a person reads after `apply` on the real fleet: findings of the files as written, the
handlers that ran with their checks, the totals lines; and `apply --plan X --dry-run` showing
X itself, refusing a host that changed since X was made."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, write_project

PER_HOST = "3 files to change, 1 to create, 2 live settings, 2 restarts"


def cli(project: Path, fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--no-color", *args, env=fleet.env(), cwd=project)


def test_apply_reports_what_is_still_wrong_and_what_ran(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    hosts = fleet.hosts[:2]
    project = write_project(fleet, tmp_path, hosts)
    plan = cli(project, fleet, "plan")
    assert plan.stdout.rstrip().splitlines()[-1] == (
        "Plan: 6 files to change, 2 to create, 4 live settings, 4 restarts"
    )
    assert "CEL006 error" in plan.stdout and "CEL004 warning" in plan.stdout

    applied = cli(project, fleet, "apply", "--yes")
    out = applied.stdout
    assert applied.returncode == 0, out + applied.stderr
    # the findings are those of the files as written: what the apply fixed is gone
    assert "findings after apply" in out
    for fixed in ("CEL001", "CEL004", "CEL005", "CEL006", "CEL007", "CEL009", "RDS002", "RMQ001"):
        assert fixed not in out, fixed
    for h in hosts:
        assert f"{h.name} : changed  run " in out
    assert out.count("    handler 'restart rabbitmq' (true): ok") == 2
    assert out.count("    handler 'restart celery' (true): ok") == 2
    lines = out.rstrip().splitlines()
    assert lines[-2:] == [
        "2 hosts: 2 changed",
        "Applied: 6 files changed, 2 created, 4 live settings, 4 restarts",
    ]

    again = cli(project, fleet, "rollback", "--last", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(cli(project, fleet, "apply", "--yes", "--format", "json").stdout)
    for report in doc["hosts"]:
        assert report["findings_of"] == "files as written"
        assert [(h["name"], h["ok"]) for h in report["handlers"]] == [
            ("restart rabbitmq", True),
            ("restart celery", True),
        ]
        rules = {f["rule"] for f in report["plan"]["findings"]}
        assert not rules & {"CEL004", "CEL006", "RDS002"}, rules
    assert doc["totals"] == "Applied: 6 files changed, 2 created, 4 live settings, 4 restarts"
    # nothing left to do: every host ok, its findings those of the files as found
    doc = json.loads(cli(project, fleet, "apply", "--yes", "--format", "json").stdout)
    assert {(h["status"], h["findings_of"], len(h["handlers"])) for h in doc["hosts"]} == {
        ("ok", "files as found", 0)
    }
    assert cli(project, fleet, "rollback", "--last", "--yes").returncode == 0


def test_dry_run_of_a_saved_plan_shows_that_plan(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    saved = project / "plan.json"
    assert cli(project, fleet, "plan", "--out", str(saved)).returncode == 0
    before = host.path("/srv/app/celeryconfig.py").read_bytes()

    # the inputs change after the plan was made: the dry run shows X, not a new plan, and says
    # that `apply --plan X` would refuse the host
    template = project / "templates" / "celeryconfig.py.j2"
    original = template.read_text()
    template.write_text(original.replace('"socket_timeout":', '"socket_connect_timeout":'))
    shown = cli(project, fleet, "apply", "--plan", str(saved), "--dry-run")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "['socket_timeout']" in shown.stdout and "socket_connect_timeout" not in shown.stdout
    assert f"Plan: {PER_HOST}" in shown.stdout
    assert (
        f"{host.name} : would be refused: stale plan: /srv/app/celeryconfig.py would now be "
        "written differently than planned (inputs changed)" in shown.stdout
    )
    template.write_text(original)
    shown = cli(project, fleet, "apply", "--plan", str(saved), "--dry-run")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"{host.name} : the saved plan still applies" in shown.stdout

    # the host changes after the plan was made: the dry run says apply would refuse it
    host.path("/srv/app/celeryconfig.py").write_bytes(before + b"worker_concurrency = 2\n")
    stale = cli(project, fleet, "apply", "--plan", str(saved), "--dry-run")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert (
        f"{host.name} : would be refused: stale plan: /srv/app/celeryconfig.py changed since "
        "the plan was made" in stale.stdout
    )
    doc = json.loads(
        cli(project, fleet, "apply", "--plan", str(saved), "--dry-run", "--format", "json").stdout
    )
    assert doc["kind"] == "apply-dry-run" and doc["exit_code"] == 1
    assert doc["stale"][host.name].startswith("stale plan: /srv/app/celeryconfig.py changed")
    assert (
        host.path("/srv/app/celeryconfig.py").read_bytes() == before + b"worker_concurrency = 2\n"
    )
