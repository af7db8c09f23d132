"""The peers of the fleet benchmark: ansible-core and pyinfra, each in its own throwaway venv.

Each peer makes the same six edits as `remediate`'s shipped playbook (bench/ansible/,
bench/pyinfra/) in its change-detection mode, against the same fleet, key and known_hosts.
This module installs them, builds their command lines and environments, and checks from
their output that every host was reached and every edit detected.
"""

from __future__ import annotations

import os
import re
import signal
import string
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fleet import Fleet

BENCH = Path(__file__).resolve().parent
PEERS_HOME = Path("/tmp/remediate-bench-peers")
INSTALL_TIMEOUT = 900.0

#: How many edits (Ansible tasks) and pyinfra operations each host must show as changed.
ANSIBLE_CHANGED_PER_HOST = 6
PYINFRA_OPERATIONS = 7  # the six edits plus files.directory for the drop-in's directory


class PeerError(RuntimeError):
    """A peer could not be installed or run; the benchmark reports it and goes on."""


@dataclass(frozen=True)
class PeerTool:
    """An installed peer: its name, version and bin directory."""

    name: str
    version: str
    bin: Path


@dataclass(frozen=True)
class PeerRun:
    """One run of a peer against one fleet: argv, environment, and how to judge its output."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    check: Callable[[str, int], str | None]  # (output, exit code) -> problem, or None when good
    cleanup: Callable[[], None]


def install(package: str, executable: str, log: Path) -> PeerTool:
    """``package`` in its own venv under /tmp (reused when already there); its version."""
    venv = PEERS_HOME / package
    exe = venv / "bin" / executable
    if not exe.exists():
        PEERS_HOME.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    package,
                ],
            ]
            for step in steps:
                try:
                    done = subprocess.run(
                        step,
                        check=False,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        timeout=INSTALL_TIMEOUT,
                        stdin=subprocess.DEVNULL,
                    )
                except subprocess.TimeoutExpired:
                    raise PeerError(
                        f"installing {package} took over {INSTALL_TIMEOUT:.0f} s"
                    ) from None
                if done.returncode != 0:
                    raise PeerError(
                        f"installing {package} failed (exit {done.returncode}); see {log}"
                    )
    if not exe.exists():
        raise PeerError(f"{package} installed no {executable} in {venv}")
    return PeerTool(package, version_of([str(exe), "--version"]), exe.parent)


def install_all(
    log: Path, notes: list[str], progress: Callable[[str], None]
) -> dict[str, PeerTool]:
    """ansible-core and pyinfra; a peer that cannot be installed becomes a note, not an error."""
    installed = {}
    for name, package, exe in (
        ("ansible", "ansible-core", "ansible-playbook"),
        ("pyinfra", "pyinfra", "pyinfra"),
    ):
        progress(f"installing {package} into {PEERS_HOME / package} (reused when present)")
        try:
            installed[name] = install(package, exe, log)
        except PeerError as exc:
            notes.append(f"{package} not measured: {exc}")
            progress(f"  {exc}")
    return installed


def version_of(argv: list[str]) -> str:
    """The first line a tool prints for its version (stdout or stderr), or why there is none."""
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


# -- ansible-core ---------------------------------------------------------------------------
def ansible_inventory(fleet: Fleet) -> str:
    template = string.Template((BENCH / "ansible" / "inventory.ini.template").read_text())
    return template.substitute(
        hosts="\n".join(f"{h.name} ansible_host={h.address}" for h in fleet.hosts),
        key=fleet.client_key,
        known_hosts=fleet.known_hosts,
    )


def ansible_run(tool: PeerTool, fleet: Fleet, work: Path, run: int) -> PeerRun:
    """``ansible-playbook --check --diff -f 50``; every run gets fresh SSH ControlPersist masters."""
    inventory = work / "ansible-inventory.ini"
    if not inventory.exists():
        inventory.write_text(ansible_inventory(fleet))
    control_dir = work / f"ansible-cp-{run}"
    control_dir.mkdir(exist_ok=True)
    env = fleet.env()
    env.update(
        ANSIBLE_CONFIG=str(BENCH / "ansible" / "ansible.cfg"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control_dir),
        ANSIBLE_NOCOLOR="1",
    )
    argv = [
        str(tool.bin / "ansible-playbook"),
        "-i",
        str(inventory),
        str(BENCH / "ansible" / "fleet_edits.yml"),
        "--check",
        "--diff",
        "-f",
        "50",
    ]
    hosts = len(fleet.hosts)
    return PeerRun(
        "ansible",
        argv,
        env,
        work,
        lambda out, code: check_ansible(out, code, hosts),
        lambda: stop_ssh_masters(control_dir),
    )


def check_ansible(output: str, code: int, hosts: int) -> str | None:
    recap = re.findall(
        r"^\S+\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.MULTILINE
    )
    good = [r for r in recap if r == (str(ANSIBLE_CHANGED_PER_HOST), "0", "0")]
    if code != 0 or len(good) != hosts:
        return (
            f"exit {code}; {len(good)} of {hosts} hosts showed changed={ANSIBLE_CHANGED_PER_HOST} "
            "unreachable=0 failed=0"
        )
    return None


def stop_ssh_masters(control_dir: Path) -> None:
    """End the ssh ControlPersist masters one Ansible run left (their argv names the directory)."""
    marker = str(control_dir).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ssh") and marker in cmdline:
            try:
                os.kill(int(name), signal.SIGTERM)
            except ProcessLookupError:
                pass


# -- pyinfra --------------------------------------------------------------------------------
def pyinfra_run(tool: PeerTool, fleet: Fleet, work: Path) -> PeerRun:
    """``pyinfra inventory.py deploy.py --dry --diff --parallel 50`` (change detection, no -y)."""
    env = fleet.env()
    env.update(
        FLEET_BENCH_HOSTS=",".join(h.address for h in fleet.hosts),
        FLEET_BENCH_KEY=str(fleet.client_key),
        FLEET_BENCH_KNOWN_HOSTS=str(fleet.known_hosts),
    )
    argv = [
        str(tool.bin / "pyinfra"),
        str(BENCH / "pyinfra" / "inventory.py"),
        str(BENCH / "pyinfra" / "deploy.py"),
        "--dry",
        "--diff",
        "--parallel",
        "50",
    ]
    hosts = len(fleet.hosts)
    return PeerRun(
        "pyinfra", argv, env, work, lambda out, code: check_pyinfra(out, code, hosts), lambda: None
    )


def check_pyinfra(output: str, code: int, hosts: int) -> str | None:
    _, _, table = output.partition("Detected changes:")
    counts = re.findall(r"^\s{4}\S.*?\s{2,}(\d+)(?: \(|\s)", table, re.MULTILINE)
    full = [c for c in counts if int(c) == hosts]
    if code != 0 or len(full) != PYINFRA_OPERATIONS:
        return (
            f"exit {code}; {len(full)} of {PYINFRA_OPERATIONS} operations detected a change "
            f"on all {hosts} hosts"
        )
    return None
