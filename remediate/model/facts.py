"""Facts gathered from a host: values, never handles. A file as found, the open-file limit
of a running server, what a running Redis or RabbitMQ node said about itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from remediate.model.workers import WorkerFact


@dataclass(frozen=True)
class FileFact:
    """One path as found on a host: its bytes and metadata, or why there are none."""

    path: str
    exists: bool
    content: bytes = b""
    sha256: str = ""
    mode: str = ""  # "0644"
    uid: int | None = None
    gid: int | None = None
    owner: str = ""
    group: str = ""
    error: str = ""  # set when the path exists but could not be read

    @property
    def readable(self) -> bool:
        return self.exists and not self.error


@dataclass(frozen=True)
class ProcessLimit:
    pid: int
    name: str
    soft: int | None  # None = unlimited
    hard: int | None


@dataclass(frozen=True)
class RabbitRuntime:
    running: bool
    heartbeat: int | None = None  # None: not set in the app env (the default applies)
    pid: int | None = None
    error: str = ""
    state: str = ""  # read | not running | unknown ("" = derived from running/error)
    version: str = ""  # the rabbit application's vsn ("3.10.8"); "" when not read

    @property
    def live_state(self) -> str:
        state = self.state or ("read" if self.running else "not running")
        return f"unknown: {self.error or 'no reason given'}" if state == "unknown" else state


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket (state LISTEN in /proc/net/tcp or tcp6)."""

    address: str  # "127.0.0.1", "::1", "0.0.0.0", "::"
    port: int
    inode: int = 0

    @property
    def wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "::")

    def reach(self) -> str:
        """The address a client on the host connects to for this socket."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.address, self.address)

    def accepts(self, address: str, port: int) -> bool:
        """Whether a connection to ``address:port`` on the host lands on this socket."""
        if port != self.port:
            return False
        if self.address == address or self.address == "::":
            return True
        return self.address == "0.0.0.0" and ":" not in address

    def __str__(self) -> str:
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else f"{self.address}:{self.port}"
        )


@dataclass(frozen=True)
class ProcessFact:
    """A server process found on the host (/proc), with the TCP sockets it listens on."""

    pid: int
    name: str  # comm: redis-server, beam.smp, celery
    uid: int | None = None
    exe: str = ""
    argv: tuple[str, ...] = ()
    cwd: str = ""
    listeners: tuple[Listener, ...] = ()

    def connect_listener(self) -> Listener | None:
        """Loopback first (127.0.0.1, ::1, or a wildcard bind), else the first bound address."""
        for listener in self.listeners:
            if listener.reach() in ("127.0.0.1", "::1"):
                return listener
        return self.listeners[0] if self.listeners else None


@dataclass(frozen=True)
class RedisRuntime:
    """What a running redis-server says about itself (or why it said nothing).

    ``state`` is what a report may claim: ``read`` (the live values were read back),
    ``not running`` (no redis-server process on the host: a fact) or ``unknown`` (a process
    runs but its values could not be read; ``error`` says why). Never assumed."""

    running: bool
    config: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    connected_clients: int | None = None
    maxclients: int | None = None
    ping: bool = False
    error: str = ""
    state: str = ""  # read | not running | unknown ("" = derived from running/error)
    config_file: str = ""  # INFO server's config_file: the file the instance started from
    version: str = ""
    executable: str = ""
    address: str = ""  # the listener it was read through
    port: int | None = None
    used_memory: int | None = None  # INFO memory used_memory, bytes

    @property
    def live_state(self) -> str:
        """``read``, ``not running`` or ``unknown: <reason>``."""
        state = self.state or (
            "read"
            if self.running and not self.error
            else "not running"
            if not self.running and not self.error
            else "unknown"
        )
        return f"unknown: {self.error or 'no reason given'}" if state == "unknown" else state

    @property
    def read(self) -> bool:
        return self.live_state == "read"


@dataclass(frozen=True)
class RedisInstance:
    """A running redis-server as the rules see it: its pid, the listener it was asked through,
    and the file INFO server says it runs from ("" = started without one), or why that
    could not be read (``error``)."""

    pid: int
    listener: str = ""
    config_file: str = ""
    error: str = ""


@dataclass(frozen=True)
class HostFacts:
    """Everything gathered from one host in one pass (values, not handles)."""

    files: dict[str, FileFact]
    redis: RedisRuntime | None = None
    rabbitmq: RabbitRuntime | None = None
    limits: dict[int, ProcessLimit] = field(default_factory=dict)
    processes: tuple[ProcessFact, ...] = ()
    redis_by_file: dict[str, RedisRuntime] = field(
        default_factory=dict
    )  # managed path -> its instance
    #: every running redis-server (by pid) as it answered INFO server (config_file), or why not
    redis_instances: dict[int, RedisRuntime] = field(default_factory=dict)
    #: (kind, pattern) of each managed path pattern that matched no file on the host
    unmatched: tuple[tuple[str, str], ...] = ()
    workers: tuple[WorkerFact, ...] | None = None  # running Celery workers; None: not gathered

    def redis_for(self, path: str) -> RedisRuntime | None:
        """The runtime of the instance that runs from ``path`` (else the host's one Redis)."""
        return self.redis_by_file.get(path, self.redis)

    def running(self, name: str) -> tuple[ProcessFact, ...]:
        return tuple(p for p in self.processes if p.name == name)

    def process_limit(self, name: str) -> ProcessLimit | None:
        """The limit of the server the host runs (by the pid the server reports)."""
        pid = (
            self.redis.pid
            if name == "redis-server" and self.redis
            else self.rabbitmq.pid
            if name == "beam.smp" and self.rabbitmq
            else None
        )
        if pid in self.limits:
            return self.limits[pid]
        candidates = [limit for limit in self.limits.values() if limit.name == name]
        return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class RedisEndpoint:
    """Where a host's Redis listens, as the host sees it, and the password that opens it."""

    address: str
    port: int
    password: str | None = field(default=None, repr=False)
    config_command: str = "CONFIG"  # rename-command CONFIG <name> in the instance's file

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"
