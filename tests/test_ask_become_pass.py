"""-K/--ask-become-pass: asked once on the terminal, the typed password is what sudo reads
(a fake sudo on a local host that needs one); without a terminal, refused (exit 64)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "typed-become-pw"

#: sudo that always needs a password: ``-n`` fails; ``-S`` reads it from stdin, logs it, and
#: runs the command when it is right
FAKE_SUDO = """#!/bin/sh
for a in "$@"; do
  case "$a" in --) break;; -n) echo "sudo: a password is required" >&2; exit 1;; esac
done
IFS= read -r pw
printf '%s\\n' "$pw" >> "$FAKE_SUDO_LOG"
[ "$pw" = "{password}" ] || {{ echo "Sorry, try again." >&2; exit 1; }}
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift
exec "$@"
"""


def project(directory: Path) -> dict[str, str]:
    """A local host that becomes root with the fake sudo first on PATH: the env to run in."""
    shutil.copytree(ROOT / "playbooks", directory / "playbooks")
    shutil.copytree(ROOT / "templates", directory / "templates")
    (directory / "inventory").mkdir()
    (directory / "inventory" / "hosts.ini").write_text(
        "[redis]\nh1 ansible_connection=local ansible_become=true\n"
    )
    (directory / "bin").mkdir()
    sudo = directory / "bin" / "sudo"
    sudo.write_text(FAKE_SUDO.format(password=PASSWORD))
    sudo.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{directory / 'bin'}:{env['PATH']}"
    env["FAKE_SUDO_LOG"] = str(directory / "sudo.log")
    return env


def test_without_a_terminal_it_is_refused(tmp_path: Path) -> None:
    env = project(tmp_path)
    done = run_cli("plan", "-K", env=env, cwd=tmp_path, input=PASSWORD + "\n")
    assert done.returncode == 64, done.stdout + done.stderr
    assert "needs a terminal" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "sudo.log").exists()  # nothing was run on the host


def test_asked_once_on_the_terminal_and_sudo_reads_it(tmp_path: Path) -> None:
    env = project(tmp_path)
    controller, terminal = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    exe = Path(sys.executable).with_name("remediate")
    child = subprocess.Popen(
        [str(exe), "plan", "-K", "--format", "json"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
        cwd=tmp_path,
        preexec_fn=own_terminal,  # noqa: PLW1509
    )
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 30
    while b"BECOME password: " not in seen and time.monotonic() < deadline:
        if select.select([controller], [], [], 1)[0]:
            seen += os.read(controller, 1024)
    assert b"BECOME password: " in seen
    os.write(controller, PASSWORD.encode() + b"\n")
    out, _ = child.communicate(timeout=120)
    while select.select([controller], [], [], 0.2)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert seen.count(b"BECOME password: ") == 1  # asked once for the whole run
    assert PASSWORD.encode() not in seen + out  # never echoed nor shown
    log = tmp_path / "sudo.log"
    assert log.exists(), seen.decode(errors="replace") + out.decode()
    used = log.read_text().splitlines()
    assert used and set(used) == {PASSWORD}  # every sudo got the typed password
    assert child.returncode in (0, 2), seen.decode(errors="replace") + out.decode()
    assert b'"h1"' in out
