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

#: RabbitMQ's live heartbeat, the node's OS pid, whether the rabbit application runs on it
#: (``rabbitmqctl stop_app`` leaves the Erlang VM, beam.smp, running without a broker) and the
#: rabbit application's version, in one eval, when rabbitmqctl exists.
RABBITMQ_PROBE = r"""up=
for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null && [ "$c" = beam.smp ] && { up=1; break; }
done
[ -n "$up" ] || { echo 'nodedown: no beam.smp process'; exit 69; }
command -v rabbitmqctl >/dev/null 2>&1 || { echo 'rabbitmqctl: not installed'; exit 127; }
timeout 20 rabbitmqctl -q eval '{application:get_env(rabbit, heartbeat), os:getpid(), lists:keymember(rabbit, 1, application:which_applications()), application:get_key(rabbit, vsn)}.'"""


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
    """Pure: ``{{ok,60},"1234",true,{ok,"3.10.8"}}`` (the running flag and the version part may
    be absent, the version ``undefined``) is read; no beam.smp process (exit 69) is not running;
    anything else while beam.smp runs is unknown, with the reason: the rabbit application
    stopped in a running VM (``false``), rabbitmqctl refused by the node (its Erlang cookie
    differs), the node not answering, rabbitmqctl timing out."""
    text = output.decode("utf-8", "replace").strip()
    match = re.search(
        r"\{\s*(?:\{ok,\s*(\d+)\}|undefined)\s*,\s*\"(\d+)\"\s*(?:,\s*(true|false)\s*)?"
        r"(?:,\s*(?:\{ok,\s*\"([^\"]*)\"\}|undefined)\s*)?\}",
        text,
    )
    if exited == 0 and match:
        heartbeat = int(match.group(1)) if match.group(1) else None
        pid = int(match.group(2))
        if match.group(3) == "false":
            return RabbitRuntime(
                False,
                pid=pid,
                state="unknown",
                error=f"the rabbit application is stopped in the running node (beam.smp pid {pid};"
                " rabbitmqctl stop_app?): the broker serves no client",
            )
        return RabbitRuntime(True, heartbeat, pid, state="read", version=match.group(4) or "")
    if exited == 69 and text.startswith("nodedown: no beam.smp"):
        return RabbitRuntime(False, state="not running")
    if exited == 127:
        return RabbitRuntime(
            False, state="unknown", error="beam.smp runs but rabbitmqctl is not installed"
        )
    return RabbitRuntime(False, state="unknown", error=_rabbitmqctl_failure(text, exited))


def _rabbitmqctl_failure(text: str, exited: int) -> str:
    """Why rabbitmqctl could not read a node whose beam.smp runs, from its DIAGNOSTICS."""
    if exited == 124:
        return "rabbitmqctl did not answer within 20 s while beam.smp runs"
    if "Erlang distribution failed" in text:  # TCP to the node worked; the handshake did not
        return (
            "rabbitmqctl cannot talk to the node while beam.smp runs: Erlang distribution failed "
            "(the CLI's Erlang cookie differs from the node's, or the node hangs)"
        )
    if "nodedown" in text or "not running at all" in text or "unable to connect to" in text:
        return "node down while beam.smp runs (rabbitmqctl cannot reach it)"
    first = next((line for line in text.splitlines() if line.strip()), "")
    return (first or f"rabbitmqctl exited {exited}")[:200]


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
    """PING, INFO server/clients and CONFIG GET ``settings`` (with the endpoint's name for
    CONFIG), sent in one write. The result says ``read`` only when every reply came back.

    Spoken on a bare redis-py Connection: a ``Redis`` client builds its table of ~170
    response callbacks on creation, more CPU than the exchange itself when every host
    of a fleet needs one client for one pipeline.
    """
    import redis

    connection = _bare_connection(conn, endpoint, timeout)
    names = sorted(set(settings) | {"maxclients"})
    config = endpoint.config_command
    commands: list[tuple[str, ...]] = [
        ("PING",),
        ("INFO", "server"),
        ("INFO", "clients"),
        ("INFO", "memory"),
    ]
    if config:
        commands += [(config, "GET", name) for name in names]
    replies: list[Any] = []
    try:
        connection.connect()  # AUTH, if there is a password
        connection.send_packed_command(connection.pack_commands(commands))
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except redis.ResponseError as exc:  # one command refused: keep reading the others
                replies.append(exc)
    except redis.AuthenticationError:
        return RedisRuntime(
            True,
            state="unknown",
            address=endpoint.address,
            port=endpoint.port,
            error=f"authentication failed at {endpoint} (set redis_password, or requirepass in the file)",
        )
    except (redis.ConnectionError, redis.TimeoutError, ConnectionFailed, OSError) as exc:
        return RedisRuntime(
            False,
            state="unknown",
            address=endpoint.address,
            port=endpoint.port,
            error=f"cannot reach {endpoint}: {_first_line(exc)}",
        )
    finally:
        connection.disconnect()
    ping, server, clients, memory, *config_replies = replies
    for reply in (ping, server, clients):
        if isinstance(reply, Exception):
            reason = (
                "authentication failed"
                if isinstance(reply, redis.AuthenticationError) or "NOAUTH" in str(reply)
                else f"redis refused: {_first_line(reply)}"
            )
            return RedisRuntime(
                True,
                state="unknown",
                error=f"{reason} at {endpoint}",
                address=endpoint.address,
                port=endpoint.port,
            )
    values: dict[str, str] = {}
    refused = ""
    for reply in config_replies:  # RESP2: [name, value, name, value, ...]
        if isinstance(reply, Exception):
            refused = _first_line(reply)
            continue
        values.update({str(k): str(v) for k, v in zip(reply[::2], reply[1::2])})
    error = (
        'CONFIG is disabled (rename-command CONFIG ""): live values cannot be read'
        if not config
        else f"{config} GET refused: {refused}"
        if refused
        else ""
    )
    maxclients = values.get("maxclients")
    return RedisRuntime(
        True,
        config={k: v for k, v in values.items() if k in settings},
        pid=_info_int(server, "process_id"),
        connected_clients=_info_int(clients, "connected_clients"),
        maxclients=int(maxclients) if maxclients and maxclients.isdigit() else None,
        ping=ping == "PONG",
        error=error,
        state="unknown" if error else "read",
        config_file=_info(server, "config_file"),
        version=_info(server, "redis_version"),
        executable=_info(server, "executable"),
        used_memory=None if isinstance(memory, Exception) else _info_int(memory, "used_memory"),
        address=endpoint.address,
        port=endpoint.port,
    )


def _info(text: str, field: str) -> str:
    """One field of an INFO reply (``field:value`` lines); "" when absent."""
    for line in str(text).splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return value.strip()
    return ""


def _info_int(text: str, field: str) -> int | None:
    value = _info(text, field)
    return int(value) if value.isdigit() else None


def set_redis(
    conn: Any, endpoint: RedisEndpoint, values: dict[str, str], timeout: float = 10.0
) -> dict[str, str]:
    """CONFIG SET each value, then read them back; returns what Redis now reports."""
    if not endpoint.config_command:
        raise ValueError(f"CONFIG is disabled on {endpoint}: live values cannot be set")
    client = redis_client(conn, endpoint, timeout)
    config = endpoint.config_command
    try:
        for name, value in values.items():
            client.execute_command(config, "SET", name, value)
        pipe = client.pipeline(transaction=False)
        for name in values:
            pipe.execute_command(config, "GET", name)
        now: dict[str, str] = {}
        for reply in pipe.execute():
            pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
            now.update({_text(k): _text(v) for k, v in pairs})
        return now
    finally:
        client.close()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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


def redis_replica_link(conn: Any, endpoint: RedisEndpoint, timeout: float = 10.0) -> str | None:
    """None when the server answers and, if it is a replica, its link to the master is up;
    else why not (``INFO replication``: ``role:slave`` needs ``master_link_status:up``)."""
    import redis

    client = redis_client(conn, endpoint, timeout)
    try:
        info = client.execute_command("INFO", "replication")
    except (redis.RedisError, ConnectionFailed, OSError) as exc:
        return f"INFO replication failed: {_first_line(exc)}"
    finally:
        client.close()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else _info_text(info)
    return replica_link_problem(text)


def _info_text(info: Any) -> str:
    """redis-py parses INFO into a dict; back to ``key:value`` lines."""
    if isinstance(info, dict):
        return "\n".join(f"{key}:{value}" for key, value in info.items())
    return str(info)


def replica_link_problem(info: str) -> str | None:
    """Pure: from ``INFO replication`` text, why a replica's link is not up (None: fine)."""
    fields = dict(line.strip().split(":", 1) for line in info.splitlines() if ":" in line)
    if fields.get("role") != "slave":
        return None
    status = fields.get("master_link_status", "")
    if status == "up":
        return None
    master = f"{fields.get('master_host', '?')}:{fields.get('master_port', '?')}"
    return f"replica of {master}: master_link_status is {status or 'missing'}, not up"
