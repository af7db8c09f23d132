"""Bounded waits on an SSH channel: every read, write and exit status has a deadline, and
a command that goes silent is checked for a frozen host (issue 20 item 6).

A command is started as ``echo MARK $$ >&2; exec COMMAND``, so its pid on the host is
known. Each time it is silent for ``idle`` seconds, a probe on a second channel of the same
connection asks whether that process or one of its descendants is *stopped* (state ``T``,
SIGSTOP); a probe that gets no answer within ``idle`` means the SSH session itself is
frozen. Either way the host is declared stalled at once instead of waiting for the
command's full deadline, and every later wait on that connection fails immediately.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any

PID_MARK = "@remediate-pid"


class Stalled(Exception):
    """The host stopped answering (a stopped process, a frozen session, a passed deadline)."""


def with_pid(command: str) -> str:
    """``command``, announcing its pid on stderr first (``exec``: the same pid runs it). The
    command runs under ``sh -c`` so a compound one (become with a password: ``if sudo ...``)
    stays one command: ``exec if ...`` would be a syntax error."""
    return f"echo {PID_MARK} $$ >&2; exec /bin/sh -c {shlex.quote(command)}"


def remote_pid(stderr: bytes) -> int | None:
    """The pid ``with_pid`` announced, once its line has arrived."""
    head, newline, _ = stderr.partition(b"\n")
    words = head.split()
    if newline and len(words) == 2 and words[0] == PID_MARK.encode() and words[1].isdigit():
        return int(words[1])
    return None


def strip_pid(stderr: bytes) -> bytes:
    return stderr.partition(b"\n")[2] if remote_pid(stderr) is not None else stderr


def stopped_probe(pid: int) -> str:
    """Prints STOPPED if ``pid`` or one of its descendants is stopped (``ps`` state T)."""
    awk = (
        "{p[$1]=$2; s[$1]=$3} END {for (q in p) {r=q; n=0; "
        "while (r in p && r!=root && r>1 && n<64) {r=p[r]; n++} "
        'if ((r==root || q==root) && s[q] ~ /^T/) {print "STOPPED"; exit}}}'
    )
    return f"ps -e -o pid=,ppid=,stat= 2>/dev/null | awk -v root={int(pid)} {shlex.quote(awk)}"


def wait_channel(
    channel: Any,
    stdin: bytes,
    deadline: float,
    idle: float,
    probe: Callable[[int | None], None],
) -> tuple[bytes, bytes, int]:
    """Send ``stdin``, read stdout and stderr to the end and the exit status, by ``deadline``.

    ``probe(pid)`` runs whenever nothing moved for ``idle`` seconds: it raises ``Stalled``
    if the host is frozen. Raises ``TimeoutError`` once ``deadline`` passes.
    """
    out: list[bytes] = []
    err = bytearray()

    def tick() -> None:
        if time.monotonic() >= deadline:
            raise TimeoutError
        probe(remote_pid(bytes(err)))

    def bounded() -> None:
        channel.settimeout(max(0.05, min(idle, deadline - time.monotonic())))

    sent = 0
    while sent < len(stdin):
        bounded()
        try:
            sent += channel.send(stdin[sent : sent + (1 << 15)])
        except TimeoutError:
            tick()
    channel.shutdown_write()
    stdout_done = False
    while not stdout_done:
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(1 << 16)
        bounded()
        try:
            data = channel.recv(1 << 16)
        except TimeoutError:
            tick()
            continue
        if data:
            out.append(data)
        else:
            stdout_done = True
    while True:
        bounded()
        try:
            data = channel.recv_stderr(1 << 16)
        except TimeoutError:
            tick()
            continue
        if not data:
            break
        err += data
    while not channel.status_event.wait(max(0.05, min(idle, deadline - time.monotonic()))):
        tick()
    return b"".join(out), strip_pid(bytes(err)), channel.recv_exit_status()
