"""The write and finish scripts, run by a real ``sh`` on local files (the fleet tests run them over SSH)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from remediate.remote.scripts import WriteOp, finish_script, parse_write_reply, write_script

RUN_ID = "20261122T000000Z-ab12"
UID, GID = os.getuid(), os.getgid()


def run(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, check=False)


def op(
    index: int,
    path: Path,
    content: bytes | None,
    mode: str = "0640",
    existed: bool = False,
    validate: str | None = None,
) -> WriteOp:
    return WriteOp(index, str(path), content, mode, UID, GID, existed, validate)


@pytest.mark.parametrize(
    "content",
    [
        b"timeout 0\n",
        b"",
        b"no newline",
        b'it\'s "quoted" $HOME `x` \\n %s\r\n',
        b"\x00\x01binary\xff",
        "café\n".encode("latin-1"),
        "héllo\n".encode(),
    ],
)
def test_files_are_written_byte_for_byte_with_their_mode(tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "etc" / "app.conf"
    target.parent.mkdir()
    target.write_bytes(b"old\n")
    done = run(
        write_script(
            str(tmp_path / "run"),
            RUN_ID,
            [op(0, target, content, "0604", existed=True)],
            b'{"manifest": true}',
            os.getpid(),
        )
    )
    assert done.returncode == 0, done.stderr
    assert parse_write_reply(done.stdout)[0].status == "renamed"
    assert target.read_bytes() == content
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert (tmp_path / "run" / "files" / "0").read_bytes() == b"old\n"  # the backup
    assert (tmp_path / "run" / "manifest.json").read_bytes() == b'{"manifest": true}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.conf"]  # nothing staged is left


def test_modes_a_umask_cannot_give_are_set_with_chmod(tmp_path: Path) -> None:
    ops = [
        op(0, tmp_path / "run.sh", b"#!/bin/sh\n", "0755"),
        op(1, tmp_path / "sticky", b"x", "1644"),
        op(2, tmp_path / "private", b"y", "0600"),
    ]
    done = run(write_script(str(tmp_path / "run"), RUN_ID, ops, b"{}", os.getpid()))
    assert done.returncode == 0, done.stderr
    modes = [
        stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("run.sh", "sticky", "private")
    ]
    assert modes == [0o755, 0o1644, 0o600]


def test_a_failed_validation_leaves_no_new_directory_or_staged_file(tmp_path: Path) -> None:
    odd = tmp_path / "new dir" / "with\nnewline" / "f.conf"
    fine = tmp_path / "fine.conf"
    fine.write_bytes(b"before\n")
    ops = [op(0, fine, b"after\n", existed=True), op(1, odd, b"x\n", validate="grep -q nomatch %s")]
    done = run(write_script(str(tmp_path / "run"), RUN_ID, ops, b"{}", os.getpid()))
    assert done.returncode == 4
    assert parse_write_reply(done.stdout)[1].status == "validate-failed"
    assert fine.read_bytes() == b"before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.conf", "run"]


def test_missing_parents_are_created_and_reported(tmp_path: Path) -> None:
    target = tmp_path / "a b" / "c" / "limits.conf"
    done = run(
        write_script(
            str(tmp_path / "run"),
            RUN_ID,
            [op(0, target, b"[Service]\n", "0644")],
            b"{}",
            os.getpid(),
        )
    )
    assert done.returncode == 0, done.stderr
    assert parse_write_reply(done.stdout)[0].created_dirs == (
        str(tmp_path / "a b"),
        str(tmp_path / "a b" / "c"),
    )
    assert target.read_bytes() == b"[Service]\n"


def test_a_lost_controller_stops_before_any_file_goes_into_place(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    target = tmp_path / "f.conf"
    target.write_bytes(b"before\n")
    done = run(
        write_script(
            str(tmp_path / "run"),
            RUN_ID,
            [op(0, target, b"after\n", existed=True)],
            b"{}",
            gone.pid,
        )
    )
    assert done.returncode == 6 and b"lost the controller" in done.stdout
    assert target.read_bytes() == b"before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.conf", "run"]


def test_finish_records_the_manifest_and_keeps_the_newest_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    names = [f"2026112{d}T000000Z-ab1{d}" for d in range(5)]
    for name in names:
        (runs / name).mkdir(parents=True)
    (runs / "notes.txt").write_text("not a run")
    (runs / "20261101T000000Z-not-hex").mkdir()  # not a run id: never counted, never removed
    (runs / "20261101T000000Z-ab").write_text("a file, not a run")
    done = run(
        finish_script(str(runs / names[-1]), str(runs), 3, b'{"status": "applied"}', names[-1])
    )
    assert done.returncode == 0, done.stderr
    assert (runs / names[-1] / "manifest.json").read_bytes() == b'{"status": "applied"}'
    others = ["notes.txt", "20261101T000000Z-not-hex", "20261101T000000Z-ab"]
    assert sorted(p.name for p in runs.iterdir()) == sorted([*names[-3:], *others])
    done = run(
        finish_script(str(runs / names[-1]), str(runs), 3, b"{}", names[-1])
    )  # nothing to prune
    assert done.returncode == 0 and len(list(runs.iterdir())) == 6


def test_runs_are_read_with_their_ids(tmp_path: Path) -> None:
    from remediate.remote.scripts import parse_runs_reply, read_runs_command

    for name, body in (("20261122T000000Z-ab10", b'{"a": 1}\n'), ("20261122T000001Z-ab11", b"{}")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_bytes(body)
    (tmp_path / "20261122T000002Z-ab12").mkdir()  # an interrupted run: no manifest yet
    boundary = "@@remediate-runs-0123"
    done = subprocess.run(
        read_runs_command(str(tmp_path), boundary), capture_output=True, check=True
    )
    assert parse_runs_reply(done.stdout, boundary) == {
        "20261122T000000Z-ab10": b'{"a": 1}\n',
        "20261122T000001Z-ab11": b"{}",
    }


def test_finish_records_nothing_when_a_file_is_not_as_written(tmp_path: Path) -> None:
    import hashlib

    odd = tmp_path / "back\\slash and\nnewline.conf"
    odd.write_bytes(b"written\n")
    gone = tmp_path / "removed.conf"
    run_dir = tmp_path / "runs" / RUN_ID
    run_dir.mkdir(parents=True)
    good = [(str(odd), hashlib.sha256(b"written\n").hexdigest()), (str(gone), "")]
    done = run(finish_script(str(run_dir), str(tmp_path / "runs"), 3, b"{}", RUN_ID, good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (run_dir / "manifest.json").read_bytes() == b"{}"
    (run_dir / "manifest.json").unlink()
    for bad in (
        [(str(odd), hashlib.sha256(b"other\n").hexdigest())],
        [(str(odd), "")],
        [(str(gone), hashlib.sha256(b"").hexdigest())],
    ):
        done = run(finish_script(str(run_dir), str(tmp_path / "runs"), 3, b"{}", RUN_ID, bad))
        assert (done.returncode, done.stdout.strip()) == (7, b"@BAD")
        assert not (run_dir / "manifest.json").exists()


def test_the_lock_is_held_by_the_printed_pid_until_stdin_closes(tmp_path: Path) -> None:
    from remediate.remote.scripts import lock_script

    lock = tmp_path / "backups" / "lock"
    holder = subprocess.Popen(
        lock_script(str(lock), 0), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdin is not None
    word, pid = holder.stdout.readline().split()
    assert (
        word == b"LOCKED" and int(pid) == holder.pid
    )  # the process a write script checks with kill -0
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    second = subprocess.run(
        lock_script(str(lock), 0), stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    assert second.returncode == 75 and b"LOCKED" not in second.stdout
    holder.stdin.close()
    assert holder.wait(10) == 0
    third = subprocess.Popen(
        lock_script(str(lock), 0), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert third.stdout is not None and third.stdout.readline().startswith(b"LOCKED")
    third.communicate(b"")


def test_leftovers_of_an_interrupted_run_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    leftover = tmp_path / ".app.conf.remediate-20261121T000000Z-dead"
    leftover.write_bytes(b"half written")
    unrelated = tmp_path / ".other.conf.remediate-20261121T000000Z-dead"
    unrelated.write_bytes(b"not ours to sweep")
    done = run(
        write_script(str(tmp_path / "run"), RUN_ID, [op(0, target, b"new\n")], b"{}", os.getpid())
    )
    assert done.returncode == 0, done.stderr
    assert not leftover.exists() and unrelated.exists() and target.read_bytes() == b"new\n"


def test_a_lock_holder_gathers_in_the_same_round_trip(tmp_path: Path) -> None:
    from remediate.engine.apply import locked_gather
    from remediate.errors import CommandFailed
    from remediate.model.timeouts import Timeouts
    from remediate.remote.connection import ConnectOptions, LocalConnection
    from remediate.remote.scripts import lock_script
    from tests.test_handlers import LocalHost

    class Target:  # what host_lock needs of a HostTarget
        host = type(
            "H",
            (),
            {
                "name": "local",
                "root": "",
                "vars": {"remediate_backup_dir": str(tmp_path / "backups")},
            },
        )()

    conf = tmp_path / "redis.conf"
    conf.write_bytes(b"timeout 300\n")
    conn = LocalConnection(LocalHost(), ConnectOptions(timeout=10))
    held, reply = locked_gather(
        conn, Target(), Timeouts(10), [str(conf), str(tmp_path / "missing")]
    )  # type: ignore[arg-type]
    try:
        assert (
            reply.files[str(conf)].content == b"timeout 300\n"
            and not reply.files[str(tmp_path / "missing")].exists
        )
        busy = subprocess.run(
            lock_script(str(tmp_path / "backups" / "lock"), 0), capture_output=True, check=False
        )
        assert busy.returncode == 75  # held while the controller works with the reply
    finally:
        held.release()
    broken = lock_script(
        str(tmp_path / "backups" / "lock"), 0, ["sh", "-c", "echo half; exit 3"], "@@m-1"
    )
    with pytest.raises(CommandFailed, match="exited 3"):
        conn.hold(broken, 10, until=b"@@m-1")
    tricky = lock_script(
        str(tmp_path / "backups" / "lock"), 0, ["printf", "@@m-2 0\\nno newline"], "@@m-2"
    )
    held = conn.hold(tricky, 10, until=b"@@m-2")
    held.release()
    assert (
        held.output == b"@@m-2 0\nno newline"
    )  # the marker only counts on a line of its own after a newline


def test_run_ids_sort_in_the_order_runs_start_within_one_second() -> None:
    import re

    from remediate.model.runs import new_run_id

    base = 1_795_000_000.0  # a whole second
    ids = [new_run_id(base + fraction) for fraction in (0.0, 0.001, 0.25, 0.5, 0.999)]
    assert ids == sorted(ids) and len({i[:16] for i in ids}) == 1
    assert all(
        re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]+", i) for i in ids
    )  # the form pruning expects
    assert new_run_id(base + 1) > ids[-1]


def test_a_staged_file_that_vanished_never_empties_the_target(tmp_path: Path) -> None:
    """A second run removes an interrupted run's staged copies; a first run that outlived its
    controller must then fail that file, not open the live file for writing (it used to fall
    back to `cat staged > target`, which empties the target before cat finds nothing)."""
    target = tmp_path / "etc" / "redis.conf"
    target.parent.mkdir()
    target.write_bytes(b"requirepass old\ntimeout 300\n")
    vanish = op(0, target, b"timeout 0\n", existed=True, validate="rm -f %s")
    done = run(write_script(str(tmp_path / "run"), RUN_ID, [vanish], b"{}", os.getpid()))
    assert done.returncode == 5, done.stdout
    assert parse_write_reply(done.stdout)[0].status == "error"
    assert target.read_bytes() == b"requirepass old\ntimeout 300\n"
