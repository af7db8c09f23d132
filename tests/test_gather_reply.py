"""The gather reply parser is pure: tested on recorded replies, like a pyinfra fact."""

from __future__ import annotations

import hashlib

import pytest

from remediate.gather import gather_command, parse_gather_reply

B = "@@remediate-0123456789abcdef01234567"


def record(content: bytes, mode: str = "644") -> bytes:
    digest = hashlib.sha256(content).hexdigest()
    return f"\n{B} F {mode} 0 110 root redis {digest}\n".encode() + content


def test_files_missing_unreadable_and_probes_round_trip() -> None:
    reply = (record(b"timeout 300\n", "640") + record(b"") + record(b"no newline")
             + f"\n{B} M".encode() + f"\n{B} E permission denied".encode()
             + f"\n{B} P hostname\nhost1\n\n{B} X 0".encode() + f"\n{B} END\n".encode())
    paths = ["/a", "/b", "/c", "/d", "/e"]
    got = parse_gather_reply(reply[1:], B, paths)  # the real reply starts with the newline
    a = got.files["/a"]
    assert (a.content, a.mode, a.uid, a.gid, a.owner, a.group) == (b"timeout 300\n", "0640", 0, 110,
                                                                   "root", "redis")
    assert got.files["/b"].content == b"" and got.files["/b"].exists
    assert got.files["/c"].content == b"no newline"
    assert not got.files["/d"].exists
    assert got.files["/e"].error == "permission denied" and not got.files["/e"].readable
    assert got.probes["hostname"].output == b"host1\n" and got.probes["hostname"].exited == 0


def test_content_that_looks_like_a_header_is_kept() -> None:
    tricky = b"\n@@remediate-other F 644\n\x00\xff\r\n"
    got = parse_gather_reply(record(tricky) + f"\n{B} END\n".encode(), B, ["/x"])
    assert got.files["/x"].content == tricky


def test_a_file_that_changed_while_read_is_flagged() -> None:
    bad = f"\n{B} F 644 0 0 root root {'0' * 64}\nabc\n{B} END\n".encode()
    assert "changed while" in parse_gather_reply(bad, B, ["/x"]).files["/x"].error


@pytest.mark.parametrize("reply", [b"", b"garbage", f"\n{B} M\n".encode()])
def test_truncated_replies_are_errors(reply: bytes) -> None:
    with pytest.raises(ValueError):
        parse_gather_reply(reply, B, ["/x"])


def test_paths_travel_as_arguments_not_script() -> None:
    evil = "/tmp/$(touch /pwned)'; rm -rf / #"
    argv = gather_command([evil], {}, B)
    assert argv[-1] == evil and evil not in argv[2]
