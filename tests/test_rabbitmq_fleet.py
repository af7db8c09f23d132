"""A host running a real rabbitmq-server: live heartbeat read, restart handler, health check."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _subnet, run_cli
from tests.fleet import Fleet

PLAYBOOK = """
- name: RabbitMQ heartbeat and file descriptors
  hosts: rabbitmq
  defaults: {rabbitmq_heartbeat: 60, rabbitmq_nofile: 65536}
  files:
    - {kind: rabbitmq, path: /etc/rabbitmq/rabbitmq.conf, template: rabbitmq.conf.j2, notify: restart rabbitmq}
    - kind: systemd
      path: /etc/systemd/system/rabbitmq-server.service.d/limits.conf
      template: rabbitmq-limits.conf.j2
      notify: restart rabbitmq
  handlers:
    restart rabbitmq:
      command: sh /srv/fleet/restart-rabbitmq
      check: rabbitmq_running
"""


@pytest.fixture(scope="module")
def rabbit_fleet() -> Iterator[Fleet]:
    with Fleet(1, subnet=_subnet(3)) as fleet:
        host = fleet.hosts[0]
        conf = host.path("/etc/rabbitmq/rabbitmq.conf")
        conf.write_text(conf.read_text() + "# copied from an old runbook\nheartbeat = 580\n")
        host.start_rabbitmq()
        yield fleet


def live_heartbeat(fleet: Fleet) -> tuple[str, str]:
    out = fleet.hosts[0].exec(
        ["rabbitmqctl", "-q", "eval", "{application:get_env(rabbit, heartbeat), os:getpid()}."]
    )
    match = re.search(r'\{ok,(\d+)\},"(\d+)"', out.stdout.decode())
    assert match, out.stdout
    return match.group(1), match.group(2)


def test_heartbeat_is_planned_applied_with_a_restart_and_read_back(
    rabbit_fleet: Fleet, tmp_path: Path
) -> None:
    fleet = rabbit_fleet
    host = fleet.hosts[0]
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.ini").write_text(
        f"[rabbitmq]\n{host.name} ansible_host={host.address} ansible_user=root "
        f"ansible_ssh_private_key_file={fleet.client_key}\n"
    )
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "templates").symlink_to(Path(__file__).resolve().parents[1] / "templates")
    heartbeat, pid_before = live_heartbeat(fleet)
    assert heartbeat == "580"

    plan = run_cli("plan", "--format", "json", env=fleet.env(), cwd=tmp_path)
    facts = json.loads(plan.stdout)["hosts"][0]["facts"]["rabbitmq"]
    assert facts["running"] and facts["heartbeat"] == 580 and str(facts["pid"]) == pid_before
    version = host.exec(["rabbitmqctl", "-q", "version"]).stdout.decode().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version) and facts["version"] == version  # same eval

    result = run_cli(
        "apply", "--yes", "--format", "json", env=fleet.env(), cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["hosts"][0]["status"] == "changed"
    heartbeat, pid_after = live_heartbeat(fleet)
    assert heartbeat == "60" and pid_after != pid_before  # the node was restarted and reads 60
    runs = json.loads(run_cli("runs", "--format", "json", env=fleet.env(), cwd=tmp_path).stdout)
    handler_runs = runs["hosts"][0]["runs"][0]["handlers"]
    assert handler_runs == ["restart rabbitmq"]
    again = run_cli("plan", "--detailed-exitcode", env=fleet.env(), cwd=tmp_path)
    assert again.returncode == 0, again.stdout


def rabbit_project(fleet: Fleet, directory: Path) -> Path:
    host = fleet.hosts[0]
    (directory / "inventory").mkdir(parents=True)
    (directory / "inventory" / "hosts.ini").write_text(
        f"[rabbitmq]\n{host.name} ansible_host={host.address} ansible_user=root "
        f"ansible_ssh_private_key_file={fleet.client_key}\n"
    )
    (directory / "playbooks").mkdir()
    (directory / "playbooks" / "site.yml").write_text(PLAYBOOK)
    (directory / "templates").symlink_to(Path(__file__).resolve().parents[1] / "templates")
    return directory


COOKIE = "/var/lib/rabbitmq/.erlang.cookie"


@pytest.mark.parametrize(
    ("breaks", "heals", "reason"),
    [
        (  # the CLI reads another cookie than the node started with
            (
                f"cp -p {COOKIE} {COOKIE}.saved && chmod 600 {COOKIE} && "
                f"printf WRONGCOOKIEWRONGCOOKIE > {COOKIE} && chmod 400 {COOKIE}"
            ),
            f"chmod 600 {COOKIE} && mv {COOKIE}.saved {COOKIE}",
            "unknown: rabbitmqctl cannot talk to the node while beam.smp runs",
        ),
        (  # the Erlang VM runs, the broker does not
            "rabbitmqctl -q stop_app",
            "rabbitmqctl -q start_app",
            "unknown: the rabbit application is stopped in the running node",
        ),
    ],
    ids=["wrong-cookie", "stop-app"],
)
def test_a_node_rabbitmqctl_cannot_read_is_unknown_while_beam_runs(
    rabbit_fleet: Fleet, tmp_path: Path, breaks: str, heals: str, reason: str
) -> None:
    fleet = rabbit_fleet
    host = fleet.hosts[0]
    directory = rabbit_project(fleet, tmp_path)
    host.exec(["sh", "-c", breaks], timeout=90)
    try:
        assert host.exec(["sh", "-c", "pgrep -x beam.smp"]).stdout.strip()  # the VM runs
        prom, report = tmp_path / "audit.prom", tmp_path / "audit.json"
        audit = run_cli(
            "audit", "--report", str(report), "--metrics", str(prom), env=fleet.env(), cwd=directory
        )
        plan = run_cli("plan", env=fleet.env(), cwd=directory)
    finally:
        host.exec(["sh", "-c", heals], timeout=90)
    assert audit.returncode == 1, audit.stdout + audit.stderr
    state = json.loads(report.read_text())["hosts"][0]["facts"]["rabbitmq"]["state"]
    assert state.startswith(reason), state
    assert (
        f'remediate_runtime_read{{host="{host.name}",component="rabbitmq"}} 0' in prom.read_text()
    )
    assert f"rabbitmq: live state {reason}" in plan.stdout, plan.stdout
    for noise in ("Secsh", "Exception (client)", "Traceback", "Socket exception"):
        assert noise not in audit.stderr + plan.stderr
