"""Unreachable hosts are one line each naming address:port; paramiko's own log lines and
tracebacks reach stderr only with --debug (issue 13, part 5).

Hosts: a real fleet host, one whose sshd is stopped (its port refuses), a port that accepts
TCP and never sends an SSH banner, and one that sends a banner and then hangs up.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import write_project

NOISE = ("Secsh", "Exception (client)", "Traceback", "Socket exception", "paramiko")


class FakeSSHPort:
    """A TCP listener: ``banner`` None accepts and says nothing; else sends it and hangs up."""

    def __init__(self, address: str, banner: bytes | None) -> None:
        self.listener = socket.create_server((address, 0))
        self.address, self.port = self.listener.getsockname()[:2]
        self.banner = banner
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.banner is None:
                self.accepted.append(conn)  # held open, silent
            else:
                conn.sendall(self.banner)
                conn.close()

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def broken_project(small_fleet: Fleet, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project whose inventory holds host1 (fine), host2 (sshd stopped) and two fake ports."""
    subnet = small_fleet.hosts[0].address.rsplit(".", 1)[0]
    silent = FakeSSHPort(f"{subnet}.201", None)
    hangup = FakeSSHPort(f"{subnet}.202", b"SSH-2.0-OpenSSH_9.2p1\r\n")
    small_fleet.hosts[1].stop_sshd()
    project = write_project(small_fleet, tmp_path, hosts=small_fleet.hosts[:2])
    inventory = project / "inventory" / "hosts.ini"
    inventory.write_text(
        inventory.read_text().replace(
            "[redis:children]",
            (
                f"silent ansible_host={silent.address} ansible_port={silent.port}\n"
                f"hangup ansible_host={hangup.address} ansible_port={hangup.port}\n\n[redis:children]"
            ),
        )
    )
    expected = {
        "host2": f"cannot connect to {small_fleet.hosts[1].address}:22: connection refused",
        "silent": f"{silent.address}:{silent.port}: SSH protocol banner not received within 2 s",
        "hangup": f"{hangup.address}:{hangup.port}",
    }
    try:
        yield project, expected
    finally:
        silent.close()
        hangup.close()
        small_fleet.restart(small_fleet.hosts[1])


@pytest.mark.parametrize("command", [["plan"], ["audit"], ["facts"], ["runs"]])
def test_unreachable_hosts_are_one_line_each_without_library_noise(
    broken_project: tuple[Path, dict[str, str]], small_fleet: Fleet, command: list[str]
) -> None:
    project, expected = broken_project
    report = project / "audit.json"
    result = run_cli(
        *command,
        "--timeout",
        "2",
        "--accept-new-host-keys",
        *(["--report", str(report)] if command == ["audit"] else []),
        env=small_fleet.env(),
        cwd=project,
    )
    assert result.returncode == 4, (result.stdout, result.stderr)
    for line in result.stderr.splitlines():
        assert not any(word in line for word in NOISE), result.stderr
    told = result.stdout + (report.read_text() if command == ["audit"] else "")
    for host, message in expected.items():
        assert message in told, (host, message, told)


def test_with_debug_paramiko_speaks(
    broken_project: tuple[Path, dict[str, str]], small_fleet: Fleet
) -> None:
    """The routing is real: the same run with --debug shows paramiko's transport log."""
    project, expected = broken_project
    result = run_cli(
        "--debug",
        "plan",
        "--timeout",
        "2",
        "--accept-new-host-keys",
        env=small_fleet.env(),
        cwd=project,
    )
    assert result.returncode == 4
    # paramiko's own lines reach the --debug log (whether it also logs an exception for the
    # silent port depends on which deadline fires first: not asserted)
    assert "DEBUG paramiko.transport" in result.stderr, result.stderr
    for message in expected.values():
        assert message in result.stdout, (message, result.stdout)
