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


@dataclass(frozen=True)
class SocketFact:
    """One TCP connection of the worker to its broker (``ss -tnoe``)."""

    peer: str  # "10.0.0.5:6379"
    keepalive: bool  # a keepalive timer is armed on the socket (``timer:(keepalive,...)``)
    local: str = ""  # "10.0.0.7:51234"


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
