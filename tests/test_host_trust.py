"""known_hosts read lazily must answer exactly as paramiko's HostKeys does."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from remediate.remote.host_trust import KnownHosts


@pytest.fixture
def known_hosts(tmp_path: Path) -> Path:
    ecdsa = paramiko.ECDSAKey.generate()
    ed = paramiko.ECDSAKey.generate(bits=384)  # another key type
    other = paramiko.ECDSAKey.generate()
    hashed = paramiko.HostKeys.hash_host("secret.example")
    lines = [
        "# a comment",
        "",
        f"web1,10.0.0.1 {ed.get_name()} {ed.get_base64()}",
        f"web1 {ecdsa.get_name()} {ecdsa.get_base64()}",
        f"web1 {other.get_name()} {other.get_base64()}",  # a second key of one type: the first wins
        f"[web1]:2222 {other.get_name()} {other.get_base64()}",
        f"{hashed} {ecdsa.get_name()} {ecdsa.get_base64()}",
        "web4 only-two-fields",
        f"web5\t{ed.get_name()}\t{ed.get_base64()}",
    ]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "name",
    ["web1", "10.0.0.1", "[web1]:2222", "secret.example", "web4", "web5", "unknown", "[web1]:22"],
)
def test_lookups_match_paramiko(known_hosts: Path, name: str) -> None:
    theirs = paramiko.HostKeys(str(known_hosts)).lookup(name)
    mine = KnownHosts(str(known_hosts)).lookup(name)
    if theirs is None:
        assert mine is None
    else:
        assert mine is not None
        assert {k: v.get_base64() for k, v in mine.items()} == {
            k: theirs[k].get_base64() for k in theirs
        }


def test_lines_paramiko_cannot_read_are_skipped(known_hosts: Path) -> None:
    good = known_hosts.read_text()
    key = good.splitlines()[3].split(" ", 1)[1]  # web1's first ecdsa key
    known_hosts.write_text(
        f"@cert-authority *.example {key}\nweb1 ssh-ed25519 not-base64!!\n" + good
    )
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        paramiko.HostKeys(str(known_hosts))
    mine = KnownHosts(str(known_hosts)).lookup("web1")
    assert mine is not None and sorted(mine) == ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"]


def test_a_revoked_key_is_never_trusted(known_hosts: Path) -> None:
    good = known_hosts.read_text()
    first_ecdsa = good.splitlines()[3].split(" ", 1)[1]
    second_ecdsa = good.splitlines()[4].split(" ", 2)[2]
    known_hosts.write_text(good + f"@revoked web1,10.0.0.9 {first_ecdsa}\n")
    mine = KnownHosts(str(known_hosts)).lookup("web1")
    assert mine is not None and sorted(mine) == ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"]
    assert (
        mine["ecdsa-sha2-nistp256"].get_base64() == second_ecdsa
    )  # the next key of the type, not the revoked one
    assert KnownHosts(str(known_hosts)).lookup("10.0.0.9") is None


def test_a_missing_file_knows_no_host() -> None:
    assert KnownHosts(None).lookup("web1") is None
