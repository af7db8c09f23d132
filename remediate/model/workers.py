"""What a running Celery worker is, as values: the versions of the interpreter that runs it, its
pool, and its broker sockets. The gathering (``remote``) produces them; the rules (CEL015,
CEL016, PKG001-PKG004) judge them through ``rules.base.Facts.workers``.

    WorkerFact(pid=4242, pool="prefork",
               versions=PackageVersions(celery="5.6.3", kombu="5.6.2", redis="6.4.0"),
               broker_url="redis://redis-01:6379/0",
               sockets=(SocketFact(peer="10.0.0.5:6379", keepalive=False),))

Versions are those of the worker's own interpreter (its site-packages' ``*.dist-info``), never
the system's; a package that is not installed there is None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackageVersions:
    """Installed versions (``"5.6.2"``) in one interpreter; None: not installed or unknown."""

    celery: str | None = None
    kombu: str | None = None
    redis: str | None = None  # redis-py
    amqp: str | None = None  # py-amqp
    librabbitmq: str | None = None


@dataclass(frozen=True)
class SocketFact:
    """One TCP connection of the worker to its broker (``ss -tnoe``; ``/proc/net/tcp``)."""

    peer: str  # "10.0.0.5:6379"
    keepalive: bool  # a keepalive timer is armed on the socket (``timer:(keepalive,...)``)
    local: str = ""  # "10.0.0.7:51234"
    #: the socket's pending timer as the kernel shows it: "keepalive", "none", or
    #: "retransmit" / "probe0" (data in flight: whether keepalive is on cannot be told)
    timer: str = ""

    @property
    def keepalive_state(self) -> str:
        """``on``, ``off`` or ``unknown`` (another timer hides the keepalive one)."""
        if self.keepalive:
            return "on"
        return "unknown" if self.timer in ("retransmit", "probe0") else "off"


@dataclass(frozen=True)
class Supervisor:
    """What brings a worker back when it exits: a systemd unit, supervisord, or nothing known."""

    kind: str  # "systemd" | "supervisord" | "none"
    name: str = ""  # "celery.service", a supervisord program name
    restart: str | None = None  # Restart= / autorestart as written; None: not set (or unread)
    #: the unit file and its drop-ins as read from the host, in systemd's order: (path, bytes)
    files: tuple[tuple[str, bytes], ...] = ()
    read: bool = False  # the unit's files (or program's config) were found and read


@dataclass(frozen=True)
class WorkerFact:
    """One running ``celery ... worker`` process (the main process, not its pool children)."""

    pid: int
    pool: str | None = None  # from -P/--pool on its command line; None when not given there
    versions: PackageVersions = PackageVersions()
    broker_url: str | None = None  # masked, or at least its scheme ("redis://...")
    sockets: tuple[SocketFact, ...] = ()  # its broker connections
    app: str = ""  # the -A/--app value, for messages
    started_at: float | None = None  # epoch seconds, for "started before the file changed"
    uid: int | None = None
    user: str = ""
    cwd: str = ""
    exe: str = ""  # /proc/PID/exe: the real interpreter binary
    interpreter: str = ""  # the python it runs as (a virtualenv's bin/python), argv[0]-based
    site_packages: tuple[str, ...] = ()  # where the versions were read, in sys.path order
    argv: tuple[str, ...] = ()
    concurrency: int | None = None  # -c/--concurrency
    queues: tuple[str, ...] = ()  # -Q/--queues
    without_heartbeat: bool = False
    hostname: str = ""  # -n/--hostname
    supervisor: Supervisor = Supervisor("none")
    connections: tuple[SocketFact, ...] = ()  # every established TCP connection (sockets: broker)
    connections_read: bool = True  # False: its fds could not be listed (another user's process)
