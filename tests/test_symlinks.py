"""A managed path that is a symbolic link is reported as one: never followed to read its
target into any output, never replaced on write (issue 20 item 4)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from remediate.remote.scripts import WriteOp, parse_write_reply, write_script
from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import drift, drifted_redis_conf, write_project

SHADOW = b"root:$6$Sh4d0w-s3cret-hash$abcdefghijklmnop:19000:0:99999:7:::\n"
REASON = "a symbolic link; remediate never follows one"


def test_a_symlinked_managed_file_is_reported_never_read_nor_replaced(
    fleet: Fleet, tmp_path: Path
) -> None:
    drift(fleet)
    host = fleet.hosts[0]
    project = write_project(fleet, tmp_path, [host])
    conf = host.path("/etc/redis/redis.conf")
    shadow = host.path("/etc/redis/shadow-like")
    real = host.path("/etc/redis/real.conf")
    shadow.write_bytes(SHADOW)
    real.write_bytes(drifted_redis_conf())
    try:
        conf.unlink()
        os.symlink("shadow-like", conf)
        for command in (["plan"], ["plan", "--format", "json"], ["apply", "--yes"]):
            result = run_cli(*command, env=fleet.env(), cwd=project)
            output = result.stdout + result.stderr
            assert result.returncode == 1, (command, output)
            assert REASON in output, output
            assert "Sh4d0w" not in output and "root:$6$" not in output
        conf.unlink()
        os.symlink("real.conf", conf)  # a valid file behind the link: still not followed
        applied = run_cli("apply", "--yes", "--format", "json", env=fleet.env(), cwd=project)
        assert applied.returncode == 1, applied.stdout
        assert json.loads(applied.stdout)["hosts"][0]["status"] == "failed"
        assert conf.is_symlink() and os.readlink(conf) == "real.conf"
        assert real.read_bytes() == drifted_redis_conf()
    finally:
        for path in (conf, shadow, real):
            if path.is_symlink() or path.exists():
                path.unlink()
        drift(fleet)


def test_the_write_script_refuses_a_path_that_became_a_symlink(tmp_path: Path) -> None:
    """A link planted after the gather is neither backed up through nor replaced."""
    target = tmp_path / "real.conf"
    target.write_bytes(b"port 6379\n")
    link = tmp_path / "redis.conf"
    link.symlink_to(target)
    op = WriteOp(0, str(link), b"port 6380\n", "0640", None, None, True)
    script = write_script(
        str(tmp_path / "run"), "20260101T000000Z-0000000", [op], b"{}", os.getpid()
    )
    reply = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, check=False)
    assert reply.returncode == 3
    assert parse_write_reply(reply.stdout)[0].detail == "is a symbolic link: not followed"
    assert link.is_symlink() and target.read_bytes() == b"port 6379\n"
    assert not (tmp_path / "run" / "files" / "0").exists()


def test_a_staged_copy_that_vanished_never_truncates_the_live_file(tmp_path: Path) -> None:
    """The in-place copy (for mount points) runs only from a staged file that is still there:
    ``cat missing > target`` would have emptied the live file (issue 20 item 8)."""
    target = tmp_path / "redis.conf"
    target.write_bytes(b"port 6379\n")
    op = WriteOp(0, str(target), b"port 6380\n", "0640", None, None, True, "rm -f %s; true")
    script = write_script(
        str(tmp_path / "run"), "20260101T000000Z-0000001", [op], b"{}", os.getpid()
    )
    reply = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, check=False)
    assert reply.returncode == 5
    assert parse_write_reply(reply.stdout)[0].status == "error"
    assert target.read_bytes() == b"port 6379\n"
