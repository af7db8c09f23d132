"""Facts gathered from a host: values, never handles. A file as found, the open-file limit
of a running server, what a running Redis or RabbitMQ node said about itself."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class RedisRuntime:
    """What a running redis-server says about itself (or why it said nothing)."""

    running: bool
    config: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    connected_clients: int | None = None
    maxclients: int | None = None
    ping: bool = False
    error: str = ""


@dataclass(frozen=True)
class HostFacts:
    """Everything gathered from one host in one pass (values, not handles)."""

    files: dict[str, FileFact]
    redis: RedisRuntime | None = None
    rabbitmq: RabbitRuntime | None = None
    limits: dict[int, ProcessLimit] = field(default_factory=dict)

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

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"
