"""The gather reply parser is pure: tested on recorded replies, like a pyinfra fact.

The last tests run the real gather script with ``sh`` on local files, so the parser is
also checked against what the script really prints (the fleet tests do it over SSH).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from remediate.remote.gather import gather_command, parse_gather_reply

B = "@@remediate-0123456789abcdef01234567"


def reply(entries: list[tuple[str, bytes, str]], probes: bytes = b"") -> bytes:
    """A reply as the script prints it: entries are (tag, content, "mode uid gid owner group")."""
    tags = "".join(tag for tag, _, _ in entries)
    readable = [(content, meta) for tag, content, meta in entries if tag == "F"]
    out = f"\n{B} S {tags}\n".encode()
    if readable:
        out += b"".join(f"{meta} {len(content)}\n".encode() for content, meta in readable)
        out += f"\n{B} H\n".encode()
        out += b"".join(
            f"{hashlib.sha256(c).hexdigest()}  /some/path\n".encode() for c, _ in readable
        )
        out += f"\n{B} C\n".encode() + b"".join(c for c, _ in readable)
    return out + probes + f"\n{B} END\n".encode()


def F(content: bytes, meta: str = "644 0 0 root root") -> tuple[str, bytes, str]:
    return ("F", content, meta)


def test_files_missing_unreadable_and_probes_round_trip() -> None:
    got = parse_gather_reply(
        reply(
            [
                F(b"timeout 300\n", "640 0 110 root redis"),
                F(b""),
                F(b"no newline"),
                ("M", b"", ""),
                ("D", b"", ""),
                ("N", b"", ""),
            ],
            probes=f"\n{B} P hostname\nhost1\n\n{B} X 0".encode(),
        )[1:],
        B,
        ["/a", "/b", "/c", "/d", "/e", "/f"],
    )  # the real reply starts with the newline
    a = got.files["/a"]
    assert (a.content, a.mode, a.uid, a.gid, a.owner, a.group) == (
        b"timeout 300\n",
        "0640",
        0,
        110,
        "root",
        "redis",
    )
    assert a.sha256 == hashlib.sha256(b"timeout 300\n").hexdigest()
    assert got.files["/b"].content == b"" and got.files["/b"].exists
    assert got.files["/c"].content == b"no newline"
    assert not got.files["/d"].exists
    assert got.files["/e"].error == "permission denied" and not got.files["/e"].readable
    assert got.files["/f"].error == "not a regular file" and got.files["/f"].exists
    assert list(got.files) == ["/a", "/b", "/c", "/d", "/e", "/f"]
    assert got.probes["hostname"].output == b"host1\n" and got.probes["hostname"].exited == 0


def test_content_that_looks_like_a_header_is_kept() -> None:
    tricky = b"\n@@remediate-other F 644\n\x00\xff\r\n"
    got = parse_gather_reply(reply([F(tricky), F(b"second\n")]), B, ["/x", "/y"])
    assert got.files["/x"].content == tricky and got.files["/y"].content == b"second\n"


def test_a_file_that_changed_while_read_is_flagged() -> None:
    good = reply([F(b"abc\n"), F(b"def\n")])
    torn = good.replace(b"\nabc\n", b"\nabX\n")  # same size, other bytes than sha256sum saw
    got = parse_gather_reply(torn, B, ["/x", "/y"])
    assert "changed while" in got.files["/x"].error and got.files["/y"].content == b"def\n"


def test_a_file_that_grew_after_stat_is_flagged_with_the_ones_after_it() -> None:
    good = reply([F(b"abc\n"), F(b"def\n"), F(b"ghi\n")])
    grown = good.replace(b"abc\ndef\n", b"abc\nGROWN\ndef\n")
    got = parse_gather_reply(grown, B, ["/x", "/y", "/z"])
    assert got.files["/x"].content == b"abc\n"
    assert all("changed while" in got.files[p].error for p in ("/y", "/z"))


def test_bytes_left_over_flag_the_last_file() -> None:
    got = parse_gather_reply(reply([F(b"abc\n")]).replace(b"abc\n\n", b"abc\nmore\n\n"), B, ["/x"])
    assert "changed while" in got.files["/x"].error


def test_a_missing_checksum_line_flags_every_readable_file() -> None:
    good = reply([F(b"abc\n"), F(b"def\n")])
    first_sum = hashlib.sha256(b"abc\n").hexdigest().encode() + b"  /some/path\n"
    got = parse_gather_reply(good.replace(first_sum, b""), B, ["/x", "/y"])
    assert all("changed while" in got.files[p].error for p in ("/x", "/y"))


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"garbage",
        f"\n{B} M\n".encode(),
        f"\n{B} S F\n{B} END\n".encode(),
        f"\n{B} S FF\n\n{B} END\n".encode(),
        f"\n{B} S Q\n\n{B} END\n".encode(),
    ],
)
def test_truncated_or_garbled_replies_are_errors(bad: bytes) -> None:
    with pytest.raises(ValueError):
        parse_gather_reply(bad, B, ["/x"])


def test_paths_travel_as_arguments_not_script() -> None:
    evil = "/tmp/$(touch /pwned)'; rm -rf / #"
    argv = gather_command([evil], {}, B)
    assert argv[-1] == evil and evil not in argv[2]


def run_script(paths: list[str], probes: dict[str, str] | None = None) -> bytes:
    return subprocess.run(
        gather_command(paths, probes or {}, B), check=True, capture_output=True
    ).stdout


def test_the_real_script_reads_odd_files_exactly(tmp_path: Path) -> None:
    odd = tmp_path / "name with spaces\nand a newline"
    odd.write_bytes(b"\x00binary\xff\r\nno final newline")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "-dash").write_bytes(b"dash\n")
    locked = tmp_path / "locked"
    locked.write_bytes(b"secret\n")
    locked.chmod(0o000)
    paths = [
        str(odd),
        str(tmp_path / "empty"),
        str(tmp_path / "missing"),
        str(tmp_path),
        str(tmp_path / "-dash"),
    ]
    got = parse_gather_reply(run_script(paths, {"echo": "echo hi"}), B, paths)
    assert got.files[str(odd)].content == odd.read_bytes()
    assert got.files[str(odd)].mode == "0" + oct(odd.stat().st_mode & 0o777)[2:]
    assert (
        got.files[str(tmp_path / "empty")].content == b""
        and got.files[str(tmp_path / "empty")].readable
    )
    assert not got.files[str(tmp_path / "missing")].exists
    assert got.files[str(tmp_path)].error == "not a regular file"
    assert got.files[str(tmp_path / "-dash")].content == b"dash\n"
    assert got.probes["echo"].output == b"hi\n"
    if os.geteuid() != 0:  # root reads mode-000 files
        got = parse_gather_reply(run_script([str(locked)]), B, [str(locked)])
        assert got.files[str(locked)].error == "permission denied"


def test_the_real_script_with_nothing_readable(tmp_path: Path) -> None:
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    got = parse_gather_reply(run_script(paths), B, paths)
    assert [f.exists for f in got.files.values()] == [False, False]


def test_globs_are_expanded_on_the_host_as_data_in_the_same_command(tmp_path: Path) -> None:
    etc = tmp_path / "etc redis"  # a space: no field splitting
    etc.mkdir()
    (etc / "redis.conf").write_bytes(b"port 6379\n")
    (etc / "redis-6380.conf").write_bytes(b"port 6380\n")
    (etc / "sentinel.conf").write_bytes(b"sentinel\n")
    (etc / "redis-$(touch pwned).conf").write_bytes(b"odd name\n")
    literal = str(tmp_path / "literal")
    pattern = f"{etc}/redis*.conf"
    nothing = f"{tmp_path}/none/*.conf"
    evil = f"{tmp_path}/$(touch {tmp_path}/pwned)*"
    globs = [pattern, nothing, evil]
    argv = gather_command([literal], {}, B, globs)
    assert all(g not in argv[2] for g in globs)  # data, never script
    out = subprocess.run(argv, check=True, capture_output=True, cwd=tmp_path).stdout
    got = parse_gather_reply(out, B, [literal], globs)
    assert got.matches == {
        pattern: (
            f"{etc}/redis-$(touch pwned).conf",
            f"{etc}/redis-6380.conf",
            f"{etc}/redis.conf",
        ),
        nothing: (),
        evil: (),
    }
    assert list(got.files) == [literal, *got.matches[pattern]]
    assert got.files[f"{etc}/redis-6380.conf"].content == b"port 6380\n"
    assert not got.files[literal].exists
    assert not (tmp_path / "pwned").exists()


def test_a_path_listed_and_matched_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_bytes(b"a\n")
    literal, pattern = str(tmp_path / "a.conf"), f"{tmp_path}/*.conf"
    out = subprocess.run(
        gather_command([literal], {"echo": "echo hi"}, B, [pattern]),
        check=True,
        capture_output=True,
    ).stdout
    got = parse_gather_reply(out, B, [literal], [pattern])
    assert list(got.files) == [literal] and got.files[literal].content == b"a\n"
    assert got.matches == {pattern: (literal,)} and got.probes["echo"].output == b"hi\n"


def test_a_reply_missing_a_glob_record_is_garbled() -> None:
    with pytest.raises(ValueError, match="glob"):
        parse_gather_reply(reply([F(b"x\n")]), B, ["/x"], ["/etc/*.conf"])
