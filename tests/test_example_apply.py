"""The bundled example (inventory host `example`, files under examples/host) as a new user
meets it: `apply --yes` of the shipped playbook, then `audit` is clean (exit 0): the fixes and
the removals (CEL001's non-settings, CEL004's broker_heartbeat on a Redis broker) happened and
every other byte is kept; `rollback --last --yes` gives back every file byte for byte.

It runs on a copy in a temporary directory (the repository's example is never touched), in a
private PID namespace with its own /proc: the example host is this machine
(`ansible_connection: local`), and the redis-server and beam.smp processes other tests run
here are not the example's servers. Nothing here runs the services' init system either, so the
copy's handlers are `true` (the file entries, templates and `absent:` lists are the shipped
ones). git stores no mode but 0644/0755: the copy's redis.conf, which holds a requirepass, gets
Debian's 0640 back (RDS007 would rightly flag 0644).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "host"
CELERY = "srv/app/celeryconfig.py"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare for a private PID namespace",
)


def remediate(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("remediate")
    return subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", str(exe), "--no-color", *args],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
        check=False,
    )


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "var/lib/remediate" not in str(p)
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("inventory", "playbooks", "templates", "examples"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "examples/host/etc/redis/redis.conf").chmod(0o640)
    site = tmp_path / "playbooks" / "site.yml"
    plays = yaml.safe_load(site.read_text())
    for play in plays:
        play["handlers"] = {name: {"command": "true"} for name in play.get("handlers", {})}
    site.write_text(yaml.safe_dump(plays, sort_keys=False))
    return tmp_path


def test_apply_then_audit_is_clean_and_rollback_restores_every_byte(project: Path) -> None:
    host = project / "examples" / "host"
    before = files_of(host)
    assert before == files_of(EXAMPLE)

    audit = remediate(project, "audit", "-l", "example")
    assert audit.returncode == 2, audit.stdout + audit.stderr
    for rule in ("CEL001", "CEL004", "CEL006", "RDS002", "RMQ001"):
        assert rule in audit.stdout

    applied = remediate(project, "apply", "-l", "example", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "example : changed" in applied.stdout

    audit = remediate(project, "audit", "-l", "example")
    assert audit.returncode == 0, audit.stdout + audit.stderr

    after = files_of(host)
    old, new = before[CELERY].decode(), after[CELERY].decode()
    for line in (
        "broker_heartbeat = 10",
        "broker_connection_retry_delay = 5",
        "visibility_timeout = 43200",
    ):
        assert line in old and line not in new
    removed = [
        line[1:]
        for line in difflib.ndiff(old.splitlines(), new.splitlines())
        if line.startswith("- ")
    ]
    assert [r.lstrip() for r in removed] == [
        "broker_heartbeat = 10",
        "broker_connection_retry = False",  # edited in place: True on the same line
        "broker_connection_max_retries = 3",  # edited in place: None
        "broker_connection_retry_delay = 5",
        "visibility_timeout = 43200",
    ]
    kept = [line for line in old.splitlines() if line not in {r.lstrip() for r in removed}]
    assert [line for line in new.splitlines() if line in kept] == kept  # every other line, in order
    assert "broker_connection_retry = True\nbroker_connection_max_retries = None\n" in new
    # the other files: only the managed lines changed
    assert before["etc/default/rabbitmq-server"] == after["etc/default/rabbitmq-server"]
    redis_diff = [
        line
        for line in difflib.unified_diff(
            before["etc/redis/redis.conf"].decode().splitlines(),
            after["etc/redis/redis.conf"].decode().splitlines(),
            n=0,
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert redis_diff == ["-timeout 300", "+timeout 0", "-tcp-keepalive 0", "+tcp-keepalive 60"]

    rolled = remediate(project, "rollback", "--last", "--yes", "-l", "example")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert files_of(host) == before  # the removed lines are back, byte for byte
    assert (host / "etc/redis/redis.conf").stat().st_mode & 0o777 == 0o640
