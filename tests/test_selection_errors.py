"""A selection that reaches no host is an error, never a silent clean run (issue 13, part 4).

`-l hots1` (a typo) or a malformed pattern used to select nothing: plan, apply and audit
exited 0 and `audit --metrics` wrote a fresh all-zero file, so no drift or staleness alert
fired. Now each command exits 1 naming the pattern, before any host is contacted, and
leaves existing report and metrics files untouched. Run against the real fleet's project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import fleet_playbook, write_project

PATTERNS = ["nosuchhost", "host[1", "fleet:&", "~["]

COMMANDS: dict[str, list[str]] = {
    "plan": ["plan", "--detailed-exitcode"],
    "apply": ["apply", "--yes"],
    "audit": ["audit"],
    "facts": ["facts"],
    "rollback": ["rollback", "--last", "--yes"],
    "runs": ["runs"],
}


@pytest.fixture
def project(fleet: Fleet, tmp_path: Path) -> Path:
    return write_project(fleet, tmp_path)


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_limit_that_selects_no_host_is_an_error_naming_it(
    project: Path, fleet: Fleet, command: str, pattern: str
) -> None:
    before = {h.name: h.path("/etc/redis/redis.conf").read_bytes() for h in fleet.hosts}
    result = run_cli(*COMMANDS[command], "-l", pattern, env=fleet.env(), cwd=project)
    assert result.returncode == 1, (command, pattern, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("remediate: error: "), result.stderr
    assert repr(pattern) in lines[0] or f"'{pattern.split(':')[-1]}'" in lines[0], lines[0]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert {h.name: h.path("/etc/redis/redis.conf").read_bytes() for h in fleet.hosts} == before


def test_audit_with_no_host_leaves_the_old_report_and_metrics_untouched(
    project: Path, fleet: Fleet
) -> None:
    """An empty audit must not replace yesterday's metrics with all zeros: staleness fires."""
    metrics, report = project / "audit.prom", project / "audit.json"
    metrics.write_bytes(
        b'remediate_audit_timestamp_seconds 1700000000\nremediate_drift{host="a"} 1\n'
    )
    report.write_bytes(b'{"kind": "audit", "old": true}\n')
    for pattern in ("hots1", "host[1"):
        result = run_cli(
            "audit",
            "-l",
            pattern,
            "--metrics",
            str(metrics),
            "--report",
            str(report),
            env=fleet.env(),
            cwd=project,
        )
        assert result.returncode == 1 and repr(pattern) in result.stderr, result.stderr
    assert metrics.read_bytes() == (
        b'remediate_audit_timestamp_seconds 1700000000\nremediate_drift{host="a"} 1\n'
    )
    assert report.read_bytes() == b'{"kind": "audit", "old": true}\n'


def test_a_limit_outside_every_play_names_the_plays_patterns(fleet: Fleet, tmp_path: Path) -> None:
    project = write_project(fleet, tmp_path)
    inventory = project / "inventory" / "hosts.ini"
    inventory.write_text(inventory.read_text() + "\n[elsewhere]\nstray ansible_host=127.0.0.1\n")
    result = run_cli("plan", "-l", "stray", env=fleet.env(), cwd=project)
    assert result.returncode == 1
    assert "--limit 'stray' matches no host of any play (hosts: redis, rabbitmq" in result.stderr


def test_a_malformed_play_pattern_names_the_playbook_line(fleet: Fleet, tmp_path: Path) -> None:
    playbook = fleet_playbook().replace("hosts: redis\n", "hosts: redis:&\n", 1)
    project = write_project(fleet, tmp_path, playbook=playbook)
    result = run_cli("plan", env=fleet.env(), cwd=project)
    assert result.returncode == 1, result.stderr
    line = playbook.splitlines().index("  hosts: redis:&")  # 1-based: the play's "- name:" line
    assert f"playbooks/site.yml:{line}: play " in result.stderr, result.stderr
    assert "'redis:&'" in result.stderr and "IndexError" not in result.stderr


def test_a_play_that_matches_nothing_is_a_warning_when_others_match(
    fleet: Fleet, tmp_path: Path
) -> None:
    playbook = fleet_playbook().replace("hosts: rabbitmq\n", "hosts: rabbitmq-typo\n", 1)
    project = write_project(fleet, tmp_path, hosts=fleet.hosts[:1], playbook=playbook)
    result = run_cli("plan", env=fleet.env(), cwd=project)
    assert result.returncode == 0, result.stderr
    assert (
        "remediate: warning: play 'RabbitMQ suggests a 60 s heartbeat and gets enough file "
        "descriptors' (hosts: rabbitmq-typo) matches no host"
    ) in result.stderr
    assert fleet.hosts[0].name in result.stdout
