"""``@revoked`` in known_hosts is honoured in every form (a name, a wildcard pattern, behind
a ProxyJump) and never overridden by ``--accept-new-host-keys`` (issue 20 item 14)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import paramiko
import pytest

from remediate.remote.host_trust import KnownHosts, pattern_list_matches
from tests.conftest import run_cli
from tests.fleet import Fleet, machine_host_keys


def _runs(fleet: Fleet, project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("runs", "--timeout", "5", *extra, env=fleet.env(), cwd=project)


def _project(fleet: Fleet, tmp_path: Path) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.ini").write_text(fleet.inventory())
    return tmp_path


def _revoked(pattern: str) -> str:
    return "".join(f"@revoked {pattern} {key}\n" for key in machine_host_keys())


@pytest.mark.parametrize("form", ["name", "wildcard"])
def test_a_revoked_key_is_refused_even_with_accept_new_host_keys(
    small_fleet: Fleet, tmp_path: Path, form: str
) -> None:
    target = small_fleet.hosts[1]
    project = _project(small_fleet, tmp_path)
    known = small_fleet.known_hosts
    kept = "".join(
        line + "\n" for line in known.read_text().splitlines() if target.address not in line
    )
    if form == "name":  # the host is not in the file any more, only its revoked key
        known.write_text(kept + _revoked(target.address))
    else:  # the host's line is still there, and a wildcard revokes the key for every host
        known.write_text(known.read_text() + _revoked("127.0.*"))
    before = known.read_text()
    result = _runs(small_fleet, project, "-l", target.name, "--accept-new-host-keys")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "is marked @revoked in" in result.stdout + result.stderr
    assert known.read_text() == before  # never appended as trusted


def test_revoked_lines_behind_a_proxyjump_are_honoured_not_an_internal_error(
    small_fleet: Fleet, tmp_path: Path
) -> None:
    jump, target, _ = small_fleet.hosts
    project = _project(small_fleet, tmp_path)
    config = small_fleet.client_home / ".ssh" / "config"
    known = small_fleet.known_hosts
    original = known.read_text()
    try:
        config.write_text(
            f"Host {target.address}\n  ProxyJump root@{jump.address}\n"
            f"Host {jump.address}\n  IdentityFile {small_fleet.client_key}\n"
        )
        known.write_text(original + _revoked("198.51.100.7"))  # another host's revoked key
        through = _runs(small_fleet, project, "-l", target.name)
        assert through.returncode == 0, through.stdout + through.stderr
        known.write_text(original + _revoked(jump.address))  # the jump host's key is revoked
        refused = _runs(small_fleet, project, "-l", target.name, "--accept-new-host-keys")
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "internal error" not in refused.stderr
        assert "is marked @revoked in" in refused.stdout + refused.stderr
    finally:
        config.unlink()
        known.write_text(original)


def test_patterns_match_as_openssh_reads_them(tmp_path: Path) -> None:
    assert pattern_list_matches("*", "web1")
    assert pattern_list_matches("web?,db*", "db12")
    assert not pattern_list_matches("*.example.com,!bad.example.com", "bad.example.com")
    assert pattern_list_matches("*.Example.com", "ok.example.COM")
    key = paramiko.ECDSAKey.generate()
    path = tmp_path / "known_hosts"
    path.write_text(
        f"web1 {key.get_name()} {key.get_base64()}\n@revoked * {key.get_name()} {key.get_base64()}\n"
    )
    hosts = KnownHosts(str(path))
    assert hosts.lookup("web1") is None and hosts.is_revoked("web1", key)
    path.write_text(f"web* {key.get_name()} {key.get_base64()}\n")
    trusted = KnownHosts(str(path)).lookup("web7")
    assert trusted is not None and trusted[key.get_name()].get_base64() == key.get_base64()
