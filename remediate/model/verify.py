"""What ``remediate verify`` found on one host: values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BrokerView:
    """What the broker and the host showed about the canary's connections in the idle window."""

    samples: int = 0  # CLIENT LIST reads (Redis) or list_connections reads (RabbitMQ)
    connections: int = 0  # canary connections the broker listed (most at once)
    max_idle: float | None = None  # Redis: the largest CLIENT LIST idle of a canary connection
    consumer_idle: float | None = None  # Redis: that of the consuming (BRPOP) connection
    idle_by_connection: dict[str, float] = field(default_factory=dict)  # name/addr -> max idle
    heartbeat: int | None = None  # RabbitMQ: negotiated heartbeat of the canary's connection
    keepalive: tuple[str, ...] = ()  # ss -tnoe timers of the canary's broker sockets
    notes: tuple[str, ...] = ()  # what could not be observed, and why

    def as_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "connections": self.connections,
            "max_idle_seconds": self.max_idle,
            "consumer_max_idle_seconds": self.consumer_idle,
            "idle_by_connection": dict(self.idle_by_connection),
            "heartbeat_seconds": self.heartbeat,
            "keepalive": list(self.keepalive),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class HostVerify:
    """One host's canary: the settings it ran with, what was seen, and the verdict."""

    host: str
    address: str
    passed: bool
    config_path: str = ""
    interpreter: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # in force, secrets masked
    idle_seconds: float = 0.0
    idle_limit: float | None = None  # the largest known idle limit on the path
    budget_seconds: float = 0.0
    broker: BrokerView = field(default_factory=BrokerView)
    published: bool = False
    publish_error: str = ""
    consume_seconds: float | None = None
    events: tuple[str, ...] = ()  # "+4.6 s connection lost: ...", from the canary's log
    cause: str = ""
    rules: tuple[str, ...] = ()
    cleanup: tuple[str, ...] = ()  # what could not be removed (empty: nothing left)
    interrupted: bool = False
