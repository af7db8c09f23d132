"""A frozen host (SIGSTOP mid-apply) fails within a deadline and the fleet moves on
(issue 20 item 6): every remote wait is bounded by ``--timeout``, and the run it leaves
is recovered by ``rollback --last``."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet, _pids_in_ns, _signal
from tests.scenario import drift, drifted_redis_conf, fleet_playbook, redis_client, write_project

#: a validate step that freezes the host when /srv/fleet/freeze exists: ``$$`` (in the
#: command substitution the write script runs it in) is the write script's own shell;
#: "sshd" stops every sshd process of the host instead (the SSH session itself).
FREEZE = {
    "script": "test ! -e /srv/fleet/freeze || kill -STOP $$; true %s",
    "sshd": (
        "test ! -e /srv/fleet/freeze || { me=$(readlink /proc/self/ns/mnt); for d in /proc/[0-9]*; do "
        '[ "$(cat $d/comm 2>/dev/null)" = sshd ] && [ "$(readlink $d/ns/mnt)" = "$me" ] && '
        "kill -STOP ${d#/proc/}; done; }; true %s"
    ),
}

#: the longest wall time measured per frozen part, for the report
WALL: dict[str, float] = {}


@pytest.mark.parametrize("part", [*sorted(FREEZE), "handler"])
def test_a_frozen_host_is_failed_within_the_deadline_and_the_fleet_moves_on(
    fleet: Fleet, tmp_path: Path, part: str
) -> None:
    drift(fleet)
    healthy, frozen = fleet.hosts[2], fleet.hosts[3]
    if part == "handler":  # the rabbitmq handler (the drop-in notifies it) stops itself
        playbook = fleet_playbook().replace(
            'command: "true"', 'command: "test ! -e /srv/fleet/freeze || kill -STOP $$"', 1
        )
    else:
        playbook = fleet_playbook().replace(
            "      template: redis.conf.j2\n",
            "      template: redis.conf.j2\n      validate: " + FREEZE[part] + "\n",
        )
    project = write_project(fleet, tmp_path, [healthy, frozen], playbook=playbook)
    frozen.path("/srv/fleet/freeze").write_text("")
    started = time.monotonic()
    try:
        result = run_cli(
            "apply", "--yes", "--timeout", "5", "--format", "json",
            env=fleet.env(), cwd=project, timeout=300,
        )  # fmt: skip
        wall = time.monotonic() - started
    finally:
        frozen.path("/srv/fleet/freeze").unlink()
        for pid in _pids_in_ns(frozen.ns):
            _signal(pid, signal.SIGCONT)
    WALL[part] = wall
    print(f"frozen {part}: apply wall time {wall:.1f} s")
    try:
        assert wall < 60, wall
        assert result.returncode == 1, result.stdout + result.stderr
        hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
        assert hosts[healthy.name]["status"] == "changed"
        assert hosts[frozen.name]["status"] == "failed"
        assert "stopped responding" in hosts[frozen.name]["error"]
        time.sleep(1)  # the thawed script sees its controller gone and stops
        fleet.restart(frozen)
        undo = run_cli("rollback", "--last", "--yes", env=fleet.env(), cwd=project)
        assert undo.returncode == 0, undo.stdout + undo.stderr
        for host in (healthy, frozen):
            assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
            assert redis_client(host).config_get("timeout")["timeout"] == "300"
            leftovers = [p for p in host.path("/etc/redis").iterdir() if ".remediate-" in p.name]
            assert not leftovers
    finally:
        fleet.restart(frozen)
        drift(fleet)
