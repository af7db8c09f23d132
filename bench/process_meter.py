"""Run one command as a user would and measure it: wall time and controller memory.

Two memory figures per run:

* ``max_rss``: ``ru_maxrss`` from ``os.wait4`` on the child. Linux reports the largest
  *single* process among the child and the descendants it reaped (not a sum): for a
  one-process tool (remediate, pyinfra, the paramiko floor) it is the main process.
* ``tree_rss``: the peak, over samples every 50 ms, of the RSS *summed* over the child's
  whole process tree (Ansible forks a worker per host and runs an ``ssh`` per connection).
  Shared copy-on-write pages count once per process, so it is an upper bound. The child is
  made a child subreaper (``PR_SET_CHILD_SUBREAPER`` survives ``execve``), so daemonised
  descendants such as ``ssh`` ControlPersist masters stay in its tree while it runs.

Every run has a timeout: on expiry the child's process group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.05
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Measurement:
    """One timed run of one command."""

    seconds: float
    returncode: int
    max_rss: int  # bytes: largest single process (wait4 ru_maxrss)
    tree_rss: int  # bytes: peak RSS summed over the process tree (sampled)
    timed_out: bool

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss / 2**20

    @property
    def tree_rss_mib(self) -> float:
        return self.tree_rss / 2**20


def _subreaper_hook() -> Callable[[], None]:
    """A pre-exec hook resolved before the fork, so the child only calls into libc."""
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def hook() -> None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    return hook


_SUBREAPER = _subreaper_hook()


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants (through every thread's ``children`` list)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                queue += [
                    int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                ]
            except (OSError, ValueError):
                pass
    return found


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Peak summed RSS of a process tree, sampled until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, sum(rss_bytes(pid) for pid in process_tree(self.root)))
            if self._stop_event.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    stdout: Path | None = None,
    stderr: Path | None = None,
) -> Measurement:
    """Run ``argv`` to completion (or ``timeout``) with stdin closed; output to files or /dev/null."""
    timed_out = threading.Event()
    with contextlib.ExitStack() as files:
        out = files.enter_context(open(stdout, "wb")) if stdout else subprocess.DEVNULL
        err = files.enter_context(open(stderr, "wb")) if stderr else subprocess.DEVNULL
        start = time.perf_counter()
        # The hook only calls a libc function resolved before the fork, and the previous run's
        # sampler and timer threads are joined, so the usual preexec_fn deadlock cannot happen.
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_SUBREAPER,  # noqa: PLW1509
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()

        def expire() -> None:
            timed_out.set()
            for pid in process_tree(proc.pid):
                _kill(pid)
            _killpg(proc.pid)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child runs in its own session, so end it here
            expire()
            os.wait4(proc.pid, 0)
            raise
        finally:
            seconds = time.perf_counter() - start
            timer.cancel()
            timer.join()
            sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        seconds=seconds,
        returncode=proc.returncode,
        max_rss=usage.ru_maxrss * 1024,
        tree_rss=max(sampler.peak, usage.ru_maxrss * 1024),
        timed_out=timed_out.is_set(),
    )


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
