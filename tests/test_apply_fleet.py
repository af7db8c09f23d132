"""`remediate apply`, `rollback` and `runs` against the real SSH fleet with live redis-server."""

from __future__ import annotations

import difflib
import json
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet, FleetHost
from tests.scenario import (
    PASSWORD,
    drift,
    drifted_redis_conf,
    fleet_playbook,
    redis_client,
    write_project,
)

MANAGED = [
    "/etc/redis/redis.conf",
    "/etc/rabbitmq/rabbitmq.conf",
    "/srv/app/celeryconfig.py",
    "/etc/systemd/system/rabbitmq-server.service.d/limits.conf",
]


@pytest.fixture
def project(fleet: Fleet, tmp_path: Path) -> Path:
    drift(fleet)
    return write_project(fleet, tmp_path)


def cli(project: Path, fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=fleet.env(), cwd=project)


def snapshot(host: FleetHost) -> dict[str, tuple[bytes, int, int, int] | None]:
    out: dict[str, tuple[bytes, int, int, int] | None] = {}
    for path in MANAGED:
        local = host.path(path)
        if local.exists():
            st = local.stat()
            out[path] = (local.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
        else:
            out[path] = None
    out["dropin dir"] = (
        (b"", 0, 0, 0)
        if host.path("/etc/systemd/system/rabbitmq-server.service.d").exists()
        else None
    )
    return out


def live(host: FleetHost) -> dict[str, str]:
    client = redis_client(host)
    return {k: client.config_get(k)[k] for k in ("timeout", "tcp-keepalive")}


def test_apply_then_rollback_then_rollback_the_rollback(project: Path, fleet: Fleet) -> None:
    before = {h.name: snapshot(h) for h in fleet.hosts}
    pids = {h.name: h.redis_pid() for h in fleet.hosts}
    result = cli(project, fleet, "apply", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    for host in fleet.hosts:
        after = snapshot(host)
        # live values changed with CONFIG SET: same redis-server process, no restart
        assert live(host) == {"timeout": "0", "tcp-keepalive": "60"}
        assert host.redis_pid() == pids[host.name]
        old, new = before[host.name]["/etc/redis/redis.conf"], after["/etc/redis/redis.conf"]
        assert old and new and old[1:] == new[1:] == (0o640, *new[2:])  # mode and owner kept
        diff = [
            line
            for line in difflib.unified_diff(
                old[0].decode().splitlines(), new[0].decode().splitlines(), lineterm="", n=0
            )
            if line[:1] in "+-"
        ]
        assert diff == [
            "--- ",
            "+++ ",
            "-timeout 300",
            "+timeout 0",
            "-tcp-keepalive 0",
            "+tcp-keepalive 60",
        ]
        dropin = after["/etc/systemd/system/rabbitmq-server.service.d/limits.conf"]
        assert dropin and b"LimitNOFILE=65536" in dropin[0] and dropin[1] == 0o644
    again = cli(project, fleet, "plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout  # idempotent

    undo = cli(project, fleet, "rollback", "--last", "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    for host in fleet.hosts:
        assert (
            snapshot(host) == before[host.name]
        )  # byte-identical, modes, owners; created dirs gone
        assert live(host) == {"timeout": "300", "tcp-keepalive": "0"}

    again = cli(project, fleet, "rollback", "--last", "--yes")  # no flip-flop: nothing left
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already rolled back by" in again.stdout
    for host in fleet.hosts:
        assert live(host) == {"timeout": "300", "tcp-keepalive": "0"}
    runs = json.loads(cli(project, fleet, "runs", "--format", "json").stdout)
    undo_id = runs["runs"][0]["run_id"]  # newest first: the rollback, by its own id
    redo = cli(project, fleet, "rollback", undo_id, "--yes")
    assert redo.returncode == 0, redo.stdout + redo.stderr
    assert cli(project, fleet, "plan", "--detailed-exitcode").returncode == 0
    for host in fleet.hosts:
        assert live(host) == {"timeout": "0", "tcp-keepalive": "60"}

    runs = json.loads(cli(project, fleet, "runs", "--format", "json").stdout)
    for host in runs["hosts"]:
        kinds = [(r["kind"], r["status"]) for r in host["runs"]]  # newest first
        assert kinds == [("rollback", "applied"), ("rollback", "applied"), ("apply", "applied")]
        assert host["runs"][0]["of_run"] == host["runs"][1]["run_id"]


def test_validate_and_health_check_failures_roll_their_host_back(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    playbook = (
        fleet_playbook()
        .replace(
            "      template: rabbitmq.conf.j2\n",
            "      template: rabbitmq.conf.j2\n      validate: test ! -e /srv/fleet/fail-validate && grep -q heartbeat %s\n",
        )
        .replace(
            '    restart rabbitmq:\n      command: "true"\n',
            '    restart rabbitmq:\n      command: "true"\n      check: test ! -e /srv/fleet/fail-check\n',
        )
    )
    assert "fail-validate" in playbook and "fail-check" in playbook
    project = write_project(fleet, tmp_path, playbook=playbook)
    bad_validate, bad_check = fleet.hosts[1], fleet.hosts[2]
    bad_validate.path("/srv/fleet/fail-validate").write_text("")
    bad_check.path("/srv/fleet/fail-check").write_text("")
    before = {h.name: snapshot(h) for h in fleet.hosts}
    try:
        result = cli(project, fleet, "apply", "--yes", "--format", "json")
    finally:
        bad_validate.path("/srv/fleet/fail-validate").unlink()
        bad_check.path("/srv/fleet/fail-check").unlink()
    assert result.returncode == 1
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts[bad_validate.name]["status"] == "rolled back"
    assert "validate failed" in hosts[bad_validate.name]["error"]
    assert hosts[bad_check.name]["status"] == "rolled back"
    assert "restart rabbitmq" in hosts[bad_check.name]["error"]
    for host in (bad_validate, bad_check):
        assert snapshot(host) == before[host.name]
        assert live(host) == {"timeout": "300", "tcp-keepalive": "0"}
    for host in (fleet.hosts[0], fleet.hosts[3]):
        assert hosts[host.name]["status"] == "changed"
        assert live(host) == {"timeout": "0", "tcp-keepalive": "60"}


def test_stale_saved_plan_is_refused_for_the_changed_host(project: Path, fleet: Fleet) -> None:
    saved = project / "plan.json"
    assert cli(project, fleet, "plan", "--out", str(saved)).returncode == 0
    changed = fleet.hosts[0]
    conf = changed.path("/etc/redis/redis.conf")
    conf.write_bytes(conf.read_bytes() + b"# edited by someone after the plan\n")
    result = cli(project, fleet, "apply", "--plan", str(saved), "--yes", "--format", "json")
    assert result.returncode == 1
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert (
        hosts[changed.name]["status"] == "failed" and "stale plan" in hosts[changed.name]["error"]
    )
    assert conf.read_bytes().endswith(b"# edited by someone after the plan\n")
    assert live(changed)["timeout"] == "300"
    assert all(h["status"] == "changed" for name, h in hosts.items() if name != changed.name)


def test_concurrent_applies_to_one_host_never_interleave(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    slow = fleet_playbook().replace(
        '    restart rabbitmq:\n      command: "true"\n',
        '    restart rabbitmq:\n      command: "sleep 2"\n',
    )
    project = write_project(fleet, tmp_path, playbook=slow)
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                cli(project, fleet, "apply", "--yes", "-l", "host1", "--format", "json")
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(json.loads(r.stdout)["hosts"][0]["status"] for r in results)
    assert statuses == ["changed", "ok"], [r.stdout for r in results]
    runs = json.loads(cli(project, fleet, "runs", "-l", "host1", "--format", "json").stdout)
    assert [r["status"] for r in runs["hosts"][0]["runs"]] == ["applied"]


def test_a_host_killed_mid_run_keeps_old_or_new_and_recovers(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    victim = fleet.hosts[3]
    # the validate step runs after the backups and the manifest: kill every sshd of that host there
    killer = (
        "validate: test ! -e /srv/fleet/die || { me=$(readlink /proc/self/ns/mnt); for d in /proc/[0-9]*; do "
        '[ "$(cat $d/comm 2>/dev/null)" = sshd ] && [ "$(readlink $d/ns/mnt)" = "$me" ] && '
        "kill -9 ${d#/proc/}; done; sleep 5; }; true %s\n"
    )
    playbook = fleet_playbook().replace(
        "      template: redis.conf.j2\n", "      template: redis.conf.j2\n      " + killer
    )
    project = write_project(fleet, tmp_path, playbook=playbook)
    original = victim.path("/etc/redis/redis.conf").read_bytes()
    victim.path("/srv/fleet/die").write_text("")
    try:
        result = cli(project, fleet, "apply", "--yes", "-l", victim.name)
    finally:
        victim.path("/srv/fleet/die").unlink()
        fleet.restart(victim)
    assert result.returncode in (1, 4), result.stdout
    now = victim.path("/etc/redis/redis.conf").read_bytes()
    assert now in (
        original,
        drifted_redis_conf()
        .replace(b"timeout 300", b"timeout 0")
        .replace(b"tcp-keepalive 0\n", b"tcp-keepalive 60\n"),
    )
    leftovers = [p.name for p in victim.path("/etc/redis").iterdir() if ".remediate-" in p.name]
    runs = json.loads(cli(project, fleet, "runs", "-l", victim.name, "--format", "json").stdout)
    assert [r["status"] for r in runs["hosts"][0]["runs"]] == ["started"]
    again = cli(project, fleet, "apply", "--yes", "-l", victim.name)
    assert again.returncode == 0, again.stdout + again.stderr
    final = cli(project, fleet, "plan", "-l", victim.name, "--detailed-exitcode")
    assert final.returncode == 0, again.stdout + final.stdout
    assert not [p.name for p in victim.path("/etc/redis").iterdir() if ".remediate-" in p.name], (
        leftovers
    )


def test_a_bind_mounted_file_is_copied_in_place_and_said_so(project: Path, fleet: Fleet) -> None:
    host = fleet.hosts[0]
    source = host.dir / "mounted-celeryconfig.py"
    source.write_bytes(host.path("/srv/app/celeryconfig.py").read_bytes())
    host.exec(["mount", "--bind", str(source), "/srv/app/celeryconfig.py"])
    try:
        result = cli(project, fleet, "apply", "--yes", "-l", host.name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "copied in place" in result.stdout
        assert b"broker_connection_retry = True" in source.read_bytes()
    finally:
        host.exec(["umount", "/srv/app/celeryconfig.py"])


def test_apply_needs_yes_without_a_terminal(project: Path, fleet: Fleet) -> None:
    result = run_cli("apply", env=fleet.env(), cwd=project, input="")
    assert result.returncode == 64 and "--yes" in result.stderr
    dry = cli(project, fleet, "apply", "--dry-run")
    assert dry.returncode == 0 and "nothing was changed" in dry.stderr
    assert live(fleet.hosts[0])["timeout"] == "300"


def test_serial_batches_stop_after_a_batch_fails_too_much(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    playbook = fleet_playbook().replace(
        "      template: rabbitmq.conf.j2\n",
        "      template: rabbitmq.conf.j2\n      validate: test ! -e /srv/fleet/fail-validate && grep -q heartbeat %s\n",
    )
    project = write_project(fleet, tmp_path, playbook=playbook)
    first = fleet.hosts[0]
    first.path("/srv/fleet/fail-validate").write_text("")
    try:
        result = cli(
            project,
            fleet,
            "apply",
            "--yes",
            "--serial",
            "1",
            "--max-fail-percent",
            "0",
            "--format",
            "json",
        )
    finally:
        first.path("/srv/fleet/fail-validate").unlink()
    assert result.returncode == 1
    statuses = [
        h["status"] for h in sorted(json.loads(result.stdout)["hosts"], key=lambda h: h["host"])
    ]
    assert statuses == ["rolled back", "skipped", "skipped", "skipped"]
    for host in fleet.hosts[1:]:
        assert live(host)["timeout"] == "300"  # never touched
    halves = cli(project, fleet, "apply", "--yes", "--serial", "50%", "--format", "json")
    assert halves.returncode == 0, halves.stdout
    assert {h["status"] for h in json.loads(halves.stdout)["hosts"]} == {"changed"}


def test_old_runs_are_pruned_to_remediate_keep_runs(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    project = write_project(fleet, tmp_path)
    hosts_ini = project / "inventory" / "hosts.ini"
    hosts_ini.write_text(hosts_ini.read_text() + "remediate_keep_runs=2\n")
    host = fleet.hosts[0]
    for _ in range(2):  # apply, undo, apply, undo: four runs, two kept
        assert cli(project, fleet, "apply", "--yes", "-l", host.name).returncode == 0
        assert cli(project, fleet, "rollback", "--last", "--yes", "-l", host.name).returncode == 0
    kept = sorted(p.name for p in host.path("/var/lib/remediate/runs").iterdir())
    runs = json.loads(cli(project, fleet, "runs", "-l", host.name, "--format", "json").stdout)
    assert [r["run_id"] for r in runs["hosts"][0]["runs"]] == kept[::-1] and len(kept) == 2
    assert [r["kind"] for r in runs["hosts"][0]["runs"]] == ["rollback", "apply"]  # newest first


def test_a_handler_that_changes_a_written_file_fails_verification(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The run records "applied" only after the files are checked against what was written."""
    drift(fleet)
    host = fleet.hosts[0]
    playbook = fleet_playbook().replace(
        '    restart celery:\n      command: "true"\n',
        "    restart celery:\n      command: \"echo '# touched by a handler' >> /srv/app/celeryconfig.py\"\n",
    )
    assert "touched by a handler" in playbook
    project = write_project(fleet, tmp_path, [host], playbook=playbook)
    before = snapshot(host)
    result = cli(project, fleet, "apply", "--yes", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)["hosts"][0]
    assert report["status"] == "rolled back"
    assert report["error"] == "verify: /srv/app/celeryconfig.py is not what was written"
    after = snapshot(host)
    celery = before["/srv/app/celeryconfig.py"]
    assert (
        celery is not None
    )  # restored, then the handler ran again after the restore, as rollback does:
    assert after.pop("/srv/app/celeryconfig.py") == (
        celery[0] + b"# touched by a handler\n",
        *celery[1:],
    )
    assert after == {k: v for k, v in before.items() if k != "/srv/app/celeryconfig.py"}
    assert live(host) == {"timeout": "300", "tcp-keepalive": "0"}
    runs = json.loads(cli(project, fleet, "runs", "--format", "json").stdout)
    assert [r["status"] for r in runs["hosts"][0]["runs"]][:1] == ["rolled back"]
