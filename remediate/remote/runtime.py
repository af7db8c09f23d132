"""Live runtime state: Redis through the host's SSH connection, RabbitMQ via rabbitmqctl,
and the open-file limits of the running servers from /proc/<pid>/limits.

Probes (shell snippets run inside the gather round trip) have pure parsers here;
Redis is spoken to with redis-py over a ``direct-tcpip`` channel, so the Redis port
never needs to be reachable from the operator's machine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from remediate.errors import ConnectionFailed
from remediate.model.facts import ProcessLimit, RabbitRuntime, RedisEndpoint, RedisRuntime

#: Every redis-server / beam.smp process with its "Max open files" row (shell builtins only:
#: no process is forked per pid, which matters on hosts running many processes).
LIMITS_PROBE = r"""for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null || continue
  case "$c" in redis-server|beam.smp)
    while read -r a b c2 soft hard rest; do
      [ "$a $b $c2" = "Max open files" ] && { echo "${d#/proc/} $c Max open files $soft $hard"; break; }
    done < "$d/limits" 2>/dev/null;;
  esac
done; true"""

#: RabbitMQ's live heartbeat and the node's OS pid, when rabbitmqctl exists.
RABBITMQ_PROBE = r"""command -v rabbitmqctl >/dev/null 2>&1 || { echo 'rabbitmqctl: not installed'; exit 127; }
up=
for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null && [ "$c" = beam.smp ] && { up=1; break; }
done
[ -n "$up" ] || { echo 'nodedown: no beam.smp process'; exit 69; }
timeout 20 rabbitmqctl -q eval '{application:get_env(rabbit, heartbeat), os:getpid()}.'"""


def parse_limits_probe(output: bytes) -> dict[int, ProcessLimit]:
    """Pure: rows of ``pid comm Max open files SOFT HARD files``."""
    limits = {}
    for line in output.decode("utf-8", "replace").splitlines():
        match = re.match(r"(\d+) (\S+) Max open files\s+(\S+)\s+(\S+)", line)
        if match:
            pid = int(match.group(1))
            limits[pid] = ProcessLimit(
                pid, match.group(2), _limit(match.group(3)), _limit(match.group(4))
            )
    return limits


def _limit(text: str) -> int | None:
    return None if text == "unlimited" else int(text)


def parse_rabbitmq_probe(output: bytes, exited: int) -> RabbitRuntime:
    """Pure: ``{{ok,60},"1234"}`` or ``{undefined,"1234"}``; failures mean not running."""
    text = output.decode("utf-8", "replace").strip()
    match = re.search(r"\{\s*(?:\{ok,\s*(\d+)\}|undefined)\s*,\s*\"(\d+)\"\s*\}", text)
    if exited == 0 and match:
        heartbeat = int(match.group(1)) if match.group(1) else None
        return RabbitRuntime(True, heartbeat, int(match.group(2)))
    if exited == 127:
        return RabbitRuntime(False, error="rabbitmqctl not installed")
    first = text.splitlines()[0] if text else f"rabbitmqctl exited {exited}"
    return RabbitRuntime(
        False,
        error="not running" if "nodedown" in text or "unable to" in text.lower() else first[:200],
    )


@functools.cache
def _no_client_setinfo() -> dict[str, None]:
    """Connection arguments that skip CLIENT SETINFO on connect.

    redis-py otherwise sends two CLIENT SETINFO commands (two more round trips over the SSH
    channel) and, from 8.x, looks its own version up in the package metadata on every new
    connection (about 6 ms of CPU each). ``driver_info=None`` (8.x) or ``lib_name=None`` and
    ``lib_version=None`` (5.x-7.x) turn both off.
    """
    import inspect

    import redis

    base = getattr(
        redis.connection, "AbstractConnection", redis.connection.Connection
    )  # Connection: **kwargs
    if "driver_info" in inspect.signature(base.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


class _ChannelConnection:
    """Factory for a redis-py Connection whose socket is an SSH channel."""

    @staticmethod
    def make(opener: Callable[[], Any]) -> type:
        import redis

        class ChannelConnection(redis.connection.Connection):
            def _connect(self) -> Any:
                return opener()

        return ChannelConnection


def redis_client(conn: Any, endpoint: RedisEndpoint, timeout: float) -> Any:
    """A redis-py client that reaches ``endpoint`` through ``conn`` (SSH or local)."""
    import redis

    connection_class = _ChannelConnection.make(
        lambda: conn.open_tcp(endpoint.address, endpoint.port, timeout)
    )
    pool = redis.ConnectionPool(
        connection_class=connection_class,
        password=endpoint.password or None,
        socket_timeout=timeout,
        max_connections=1,
        protocol=2,
        **_no_client_setinfo(),
    )
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(connection_pool=pool, decode_responses=True, retry=Retry(NoBackoff(), 0))


def _bare_connection(conn: Any, endpoint: RedisEndpoint, timeout: float) -> Any:
    """A redis-py Connection, without a client or pool around it, over an SSH channel."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    connection_class = _ChannelConnection.make(
        lambda: conn.open_tcp(endpoint.address, endpoint.port, timeout)
    )
    return connection_class(
        password=endpoint.password or None,
        socket_timeout=timeout,
        protocol=2,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        **_no_client_setinfo(),
    )


def read_redis(
    conn: Any, endpoint: RedisEndpoint, settings: Iterable[str], timeout: float = 10.0
) -> RedisRuntime:
    """CONFIG GET ``settings`` plus health (PING, clients, maxclients, pid), sent in one write.

    Spoken on a bare redis-py Connection: a ``Redis`` client builds its table of ~170
    response callbacks on creation, more CPU than the exchange itself when every host
    of a fleet needs one client for one pipeline.
    """
    import redis

    connection = _bare_connection(conn, endpoint, timeout)
    names = sorted(set(settings) | {"maxclients"})
    commands = [
        ("PING",),
        *(("CONFIG", "GET", name) for name in names),
        ("INFO", "server"),
        ("INFO", "clients"),
    ]
    try:
        connection.connect()  # AUTH, if there is a password
        connection.send_packed_command(connection.pack_commands(commands))
        replies = [connection.read_response() for _ in commands]
    except redis.AuthenticationError:
        return RedisRuntime(
            True, error="authentication failed (set redis_password, or requirepass in the file)"
        )
    except redis.ResponseError as exc:
        return RedisRuntime(True, error=f"redis refused: {_first_line(exc)}")
    except (redis.ConnectionError, redis.TimeoutError, ConnectionFailed, OSError) as exc:
        reason = _first_line(exc)
        return RedisRuntime(
            False,
            error="not running"
            if "refused" in reason.lower() or "cannot reach" in reason
            else reason,
        )
    finally:
        connection.disconnect()
    ping, *config_replies, server, clients = replies
    config: dict[str, str] = {}
    for reply in config_replies:  # RESP2: [name, value, name, value, ...]
        config.update({str(k): str(v) for k, v in zip(reply[::2], reply[1::2])})
    maxclients = config.get("maxclients")
    return RedisRuntime(
        True,
        config={k: v for k, v in config.items() if k in settings},
        pid=_info_int(server, "process_id"),
        connected_clients=_info_int(clients, "connected_clients"),
        maxclients=int(maxclients) if maxclients and maxclients.isdigit() else None,
        ping=ping == "PONG",
    )


def _info_int(text: str, field: str) -> int | None:
    """One integer field of an INFO reply (``field:value`` lines)."""
    for line in str(text).splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value) if value.strip().isdigit() else None
    return None


def set_redis(
    conn: Any, endpoint: RedisEndpoint, values: dict[str, str], timeout: float = 10.0
) -> dict[str, str]:
    """CONFIG SET each value, then read them back; returns what Redis now reports."""
    client = redis_client(conn, endpoint, timeout)
    try:
        for name, value in values.items():
            client.config_set(name, value)
        pipe = client.pipeline(transaction=False)
        for name in values:
            pipe.config_get(name)
        now: dict[str, str] = {}
        for reply in pipe.execute():
            now.update({str(k): str(v) for k, v in reply.items()})
        return now
    finally:
        client.close()


def redis_ping(conn: Any, endpoint: RedisEndpoint, timeout: float = 10.0) -> bool:
    import redis

    client = redis_client(conn, endpoint, timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, ConnectionFailed, OSError):
        return False
    finally:
        client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
