"""Fleet-wide runs on the real SSH fleet: one run id per invocation, rollback by that id on
every host it touched, ``--last`` never flip-flops, partial rollbacks exit 1 (issue 17 item 2)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, redis_client, write_project

REDIS = "/etc/redis/redis.conf"
DROPIN = "/etc/systemd/system/rabbitmq-server.service.d/limits.conf"


@pytest.fixture
def three(fleet: Fleet, tmp_path: Path) -> Path:
    drift(fleet)
    return write_project(fleet, tmp_path, fleet.hosts[:3])


def cli(project: Path, fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=fleet.env(), cwd=project)


def state(fleet: Fleet) -> dict[str, tuple[bytes, bool, str]]:
    return {
        h.name: (
            h.path(REDIS).read_bytes(),
            h.path(DROPIN).exists(),
            redis_client(h).config_get("timeout")["timeout"],
        )
        for h in fleet.hosts[:3]
    }


def test_one_apply_over_three_hosts_has_one_run_id_and_rolls_back_everywhere(
    three: Path, fleet: Fleet
) -> None:
    before = state(fleet)
    applied = cli(three, fleet, "apply", "--yes", "--format", "json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    ids = {h["run_id"] for h in json.loads(applied.stdout)["hosts"]}
    assert len(ids) == 1 and "" not in ids
    [run_id] = ids
    listed = json.loads(cli(three, fleet, "runs", "--format", "json").stdout)
    assert [(r["run_id"], r["command"], r["changed"], r["failed"]) for r in listed["runs"]] == [
        (run_id, "apply", 3, 0)
    ]
    table = cli(three, fleet, "runs").stdout.splitlines()
    assert table[0].split() == ["RUN", "STARTED", "COMMAND", "HOSTS", "CHANGED", "FAILED"]
    assert table[1].split()[0] == run_id and table[1].split()[2:] == ["apply", "3", "3", "0"]
    per_host = cli(three, fleet, "runs", run_id).stdout
    for host in fleet.hosts[:3]:
        assert f"{host.name} : apply applied" in per_host
    assert f"{DROPIN} (created)" in per_host

    undo = cli(three, fleet, "rollback", run_id, "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert state(fleet) == before  # all three hosts: bytes, created file gone, live value
    assert undo.stdout.count(f"removed {DROPIN}") == 3  # a created file is removed, not restored
    assert f"restored {DROPIN}" not in undo.stdout
    undo_ids = {
        r["run_id"]
        for r in json.loads(cli(three, fleet, "runs", "--format", "json").stdout)["runs"]
    }
    assert len(undo_ids) == 2  # the apply and ONE rollback id over the three hosts


def test_rollback_last_twice_does_not_flip_flop(three: Path, fleet: Fleet) -> None:
    before = state(fleet)
    assert cli(three, fleet, "apply", "--yes").returncode == 0
    after = state(fleet)
    assert after != before
    for _ in range(2):
        undo = cli(three, fleet, "rollback", "--last", "--yes")
        assert undo.returncode == 0, undo.stdout + undo.stderr
        assert state(fleet) == before
    assert undo.stdout.count("was already rolled back by") == 3
    runs = json.loads(cli(three, fleet, "runs", "--format", "json").stdout)["runs"]
    assert [r["kind"] for r in runs] == ["rollback", "apply"]  # the second --last did nothing
    redo = cli(three, fleet, "rollback", runs[0]["run_id"], "--yes")  # a rollback: by its id
    assert redo.returncode == 0, redo.stdout
    assert state(fleet) == after


def test_a_rollback_that_skips_a_changed_file_exits_1_and_says_why(
    three: Path, fleet: Fleet
) -> None:
    assert cli(three, fleet, "apply", "--yes").returncode == 0
    edited = fleet.hosts[1]
    conf = edited.path(REDIS)
    conf.write_bytes(conf.read_bytes() + b"# edited by hand after the run\n")
    undo = cli(three, fleet, "rollback", "--last", "--yes", "--format", "json")
    assert undo.returncode == 1, undo.stdout + undo.stderr
    hosts = {h["host"]: h for h in json.loads(undo.stdout)["hosts"]}
    assert hosts[edited.name]["status"] == "partial"
    assert any(s.startswith(f"{REDIS}: changed since run") for s in hosts[edited.name]["skipped"])
    assert {hosts[h.name]["status"] for h in (fleet.hosts[0], fleet.hosts[2])} == {"changed"}
    text = cli(three, fleet, "rollback", "--last", "--yes", "--force")
    assert text.returncode == 0, text.stdout


def test_rollback_of_an_unknown_run_exits_1(three: Path, fleet: Fleet) -> None:
    result = cli(three, fleet, "rollback", "20200101T000000Z-0000000", "--yes")
    assert result.returncode == 1
    assert "no selected host has run 20200101T000000Z-0000000" in result.stdout


def test_the_rollback_prompt_shows_each_hosts_plan(three: Path, fleet: Fleet) -> None:
    assert cli(three, fleet, "apply", "--yes").returncode == 0
    applied = state(fleet)
    output = _in_terminal(three, fleet, ["rollback", "--last"], answer=b"n\n")
    assert "Roll back run" in output
    for host in fleet.hosts[:3]:
        assert f"{host.name} : changed" in output
    assert output.count(f"would restore {REDIS}") == 3
    assert output.count(f"would remove {DROPIN}") == 3
    assert state(fleet) == applied  # declined: nothing changed
    assert cli(three, fleet, "rollback", "--last", "--yes").returncode == 0


def _in_terminal(project: Path, fleet: Fleet, args: list[str], answer: bytes) -> str:
    """Run the CLI with a terminal on stdin (a confirmation prompt), answer it, return output."""
    exe = Path(sys.executable).with_name("remediate")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(exe), *args], stdin=slave, stdout=slave, stderr=slave, cwd=project, env=fleet.env()
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 90
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"[y/N]" in out:
                os.write(master, answer)
                answered = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")
