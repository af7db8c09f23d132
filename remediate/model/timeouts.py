"""Every wait on a host, derived once from ``--timeout``: no call site reshapes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """Seconds each kind of remote wait may take. ``connect`` is the ``--timeout`` option."""

    connect: float = 10.0
    lock_wait: float = 30.0  # how long a second run waits for a host's lock
    check_wait: float = 60.0  # how long a health check waits for a restarted service

    @property
    def exchange(self) -> float:
        """One short request and its reply (a Redis command, CONFIG GET/SET)."""
        return self.connect

    @property
    def gather(self) -> float:
        """Read every managed file and run the probes, in one round trip."""
        return self.connect + 25

    @property
    def lock(self) -> float:
        """Take the host lock (waiting for another run) and gather under it."""
        return self.lock_wait + self.connect

    @property
    def write(self) -> float:
        """Stage, validate and rename every file of a run."""
        return self.connect + 60

    @property
    def record(self) -> float:
        """Check the written files and record the run's manifest."""
        return max(self.connect, 60)

    @property
    def restore(self) -> float:
        """Put a host's files back after a failure."""
        return max(self.connect, 120)

    @property
    def handler(self) -> float:
        """One handler command (a service restart)."""
        return max(self.connect, 120)

    @property
    def check(self) -> float:
        """One health check command."""
        return max(self.connect, 60)

    @property
    def ping(self) -> float:
        """One PING while a health check waits for Redis."""
        return min(self.connect, 5)

    @property
    def rerun_handler(self) -> float:
        """A handler run again after a restore."""
        return 30.0
