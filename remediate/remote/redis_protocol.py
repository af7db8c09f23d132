"""Brokers without a shell: ``ansible_connection: redis`` (ElastiCache, Memorystore, Azure
Cache, or any Redis one may not log into), audited over the Redis protocol only.

Host variables: ``ansible_host`` (else the inventory name) and ``ansible_port`` (else
``redis_port``, else 6379) say where; ``redis_tls`` (a boolean; ``redis_tls_ca`` a CA file,
``redis_tls_verify: false`` skips verification) turns TLS on; ``redis_username`` (an ACL user)
and ``redis_password`` (plain or vault-encrypted) authenticate.

What is read, in one connection: ``INFO`` (server, clients, memory), ``CONFIG GET`` of the
settings the rules judge (managed services block ``CONFIG``: ElastiCache answers ``unknown
command``, Memorystore likewise; a self-run server may rename it away), and ``CLIENT LIST``
for the idle times of the connections Celery holds (blocked in ``BRPOP``/``BLPOP`` or
subscribed). A blocked ``CONFIG`` is said, and what ``INFO`` tells (``maxmemory``,
``maxmemory_policy``, ``maxclients``) stands in for it; the settings only ``CONFIG`` shows
(``timeout``, ``tcp-keepalive``) are named as not audited, never assumed.

The rules judge a *virtual redis.conf* built from those live values (``virtual_conf``): the
same rules, the same findings as for a file, placed on ``redis://host:port``. Nothing can be
written: ``run`` and ``hold`` refuse with the reason, so ``apply`` fails the host and says
where the fix belongs (the provider's parameter group).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from remediate.errors import CommandFailed, ConnectionFailed, InventoryError
from remediate.remote.connection import CommandResult, ConnectOptions, Held, HostLike

#: What the rules judge, read with CONFIG GET when the service allows it.
AUDITED = ("timeout", "tcp-keepalive", "maxmemory", "maxmemory-policy", "maxclients")
#: INFO fields that stand in when CONFIG is blocked (INFO name -> setting).
FROM_INFO = {
    "maxmemory": "maxmemory",
    "maxmemory_policy": "maxmemory-policy",
    "maxclients": "maxclients",
}
#: Commands a Celery worker's broker connection sits in while it waits for work or events.
CELERY_WAITS = frozenset({"brpop", "blpop", "bzpopmin", "subscribe", "psubscribe", "ssubscribe"})

REFUSAL = (
    "reached over the Redis protocol only (ansible_connection: redis): there is no shell and "
    "no file to write; change the setting in the provider's parameter group (ElastiCache "
    "aws_elasticache_parameter_group, Memorystore redis_configs, Azure redis_configuration; "
    "`remediate lint` checks those Terraform files)"
)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "yes", "true", "on", "y")


@dataclass(frozen=True)
class ServiceAddress:
    """Where and how to reach a Redis service (the password stays out of repr)."""

    address: str
    port: int
    tls: bool = False
    tls_ca: str | None = None
    tls_verify: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.address}:{self.port}"


def service_address(name: str, variables: Mapping[str, Any]) -> ServiceAddress:
    """Pure: a ``redis`` host's address from its inventory variables."""
    port_text = str(variables.get("ansible_port") or variables.get("redis_port") or "6379")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InventoryError(f"port {port_text!r} is not a TCP port", host=name)
    password = variables.get("redis_password")
    return ServiceAddress(
        str(variables.get("ansible_host") or name),
        int(port_text),
        tls=_truthy(variables.get("redis_tls", False)),
        tls_ca=str(variables["redis_tls_ca"]) if variables.get("redis_tls_ca") else None,
        tls_verify=_truthy(variables.get("redis_tls_verify", True)),
        username=str(variables["redis_username"]) if variables.get("redis_username") else None,
        password=str(password) if password not in (None, "") else None,
    )


@dataclass(frozen=True)
class ServiceRead:
    """What a Redis service told over its protocol (or why it told nothing)."""

    reached: bool
    error: str = ""  # why nothing was read (unreachable, authentication)
    info: dict[str, str] = field(default_factory=dict)  # INFO fields, flat
    config: dict[str, str] = field(default_factory=dict)  # CONFIG GET values (AUDITED only)
    config_refused: str = ""  # why CONFIG GET was refused ("" = it answered)
    clients: tuple[dict[str, str], ...] = ()  # CLIENT LIST rows
    clients_refused: str = ""


class RedisProtocolConnection:
    """A host reached over the Redis protocol only: TCP (or TLS) to the service, no shell."""

    def __init__(self, host: HostLike, options: ConnectOptions) -> None:
        self.host = host
        self.options = options
        self.service = service_address(host.name, getattr(host, "vars", {}) or {})
        self.endpoint = str(self.service)

    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult:
        raise CommandFailed(f"{self.endpoint} is {REFUSAL}", host=self.host.name)

    def hold(self, argv: list[str], timeout: float, until: bytes = b"") -> Held:
        raise CommandFailed(f"apply refuses: {self.endpoint} is {REFUSAL}", host=self.host.name)

    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> socket.socket:
        limit = timeout or self.options.timeout
        try:
            sock = socket.create_connection((address, port), timeout=limit)
        except OSError as exc:
            raise ConnectionFailed(
                f"cannot connect to {address}:{port}: {exc.strerror or exc}", host=self.host.name
            ) from None
        if not self.service.tls:
            return sock
        context = ssl.create_default_context(cafile=self.service.tls_ca)
        if not self.service.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            return context.wrap_socket(sock, server_hostname=address)
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise ConnectionFailed(
                f"TLS to {address}:{port} failed: {exc}", host=self.host.name
            ) from None

    def read(self, timeout: float) -> ServiceRead:
        """INFO, CONFIG GET and CLIENT LIST over one connection."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        service = self.service

        class ServiceConnection(redis.connection.Connection):
            def _connect(inner) -> Any:
                return self.open_tcp(service.address, service.port, timeout)

        connection = ServiceConnection(
            username=service.username,
            password=service.password,
            socket_timeout=timeout,
            protocol=2,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            connection.connect()
        except redis.AuthenticationError:
            return ServiceRead(
                True, error=f"authentication failed at {service} (redis_username/redis_password)"
            )
        except (redis.ConnectionError, redis.TimeoutError, ConnectionFailed, OSError) as exc:
            return ServiceRead(False, error=f"cannot reach {service}: {_first_line(exc)}")
        try:
            commands: list[tuple[str, ...]] = [("INFO",), ("CLIENT", "LIST")]
            commands += [("CONFIG", "GET", name) for name in AUDITED]
            connection.send_packed_command(connection.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as exc:
                    replies.append(exc)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            return ServiceRead(True, error=f"{service} stopped answering: {_first_line(exc)}")
        finally:
            connection.disconnect()
        info_reply, clients_reply, *config_replies = replies
        if isinstance(info_reply, Exception):
            reason = _first_line(info_reply)
            if "NOAUTH" in reason or "NOPERM" in reason:
                reason = f"not allowed: {reason} (redis_username/redis_password)"
            return ServiceRead(True, error=f"INFO refused at {service}: {reason}")
        config: dict[str, str] = {}
        refused = ""
        for reply in config_replies:
            if isinstance(reply, Exception):
                refused = refused or _first_line(reply)
                continue
            config.update({str(k): str(v) for k, v in zip(reply[::2], reply[1::2])})
        clients_refused = _first_line(clients_reply) if isinstance(clients_reply, Exception) else ""
        return ServiceRead(
            True,
            info=parse_info(str(info_reply)),
            config={k: v for k, v in config.items() if k in AUDITED},
            config_refused=refused,
            clients=() if clients_refused else parse_client_list(str(clients_reply)),
            clients_refused=clients_refused,
        )

    def close(self) -> None:
        pass


def parse_info(text: str) -> dict[str, str]:
    """Pure: INFO's ``field:value`` lines (sections flattened; comments skipped)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def parse_client_list(text: str) -> tuple[dict[str, str], ...]:
    """Pure: CLIENT LIST rows of ``key=value`` words."""
    rows = []
    for line in text.splitlines():
        row = dict(word.partition("=")[::2] for word in line.split() if "=" in word)
        if row:
            rows.append(row)
    return tuple(rows)


def live_settings(read: ServiceRead) -> tuple[dict[str, str], tuple[str, ...]]:
    """Pure: the audited settings' live values (CONFIG GET, else INFO) and those not read."""
    values = dict(read.config)
    if read.config_refused or not values:
        for info_name, setting in FROM_INFO.items():
            if info_name in read.info and setting not in values:
                values[setting] = read.info[info_name]
    missing = tuple(name for name in AUDITED if name not in values)
    return values, missing


def virtual_conf(values: Mapping[str, str]) -> bytes:
    """Pure: a redis.conf holding ``values``, one directive a line, for the rules to judge."""
    lines = []
    for name in AUDITED:
        if name in values:
            value = values[name]
            lines.append(f'{name} "{value}"' if not value or " " in value else f"{name} {value}")
    return ("\n".join(lines) + "\n").encode() if lines else b""


def celery_idle(clients: tuple[dict[str, str], ...]) -> dict[str, Any]:
    """Pure: how many connections wait like Celery's (blocked pops, subscriptions), and the
    longest idle time among them and among all clients, in seconds."""
    waiting = [c for c in clients if c.get("cmd", "").split("|")[0] in CELERY_WAITS]

    def longest(rows: list[dict[str, str]]) -> int | None:
        idles = [int(r["idle"]) for r in rows if r.get("idle", "").isdigit()]
        return max(idles) if idles else None

    return {
        "clients": len(clients),
        "celery_like": len(waiting),
        "celery_max_idle": longest(waiting),
        "max_idle": longest(list(clients)),
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
