"""Which running redis-server each managed redis.conf belongs to, and its live values.

The gather's process probe lists every redis-server with the TCP sockets it owns. Each one
is asked ``INFO server`` (``config_file``, ``process_id``) through a socket it owns: a
password is only ever sent to a listener whose inode belongs to a redis-server process,
never to whatever answers on a port. A managed file belongs to the instance whose
``config_file`` is its path; its live endpoint is that instance's own listener (loopback
first) unless inventory ``redis_host`` / ``redis_port`` say otherwise.

Each managed file ends with a state: ``read``, ``not running`` (no redis-server process
runs, or none runs from this file) or ``unknown`` (with the reason): never assumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.model.facts import ProcessFact, RedisEndpoint, RedisRuntime
from remediate.remote.runtime import read_redis


@dataclass(frozen=True)
class RedisFile:
    """A managed redis.conf of the host as the live file has it."""

    path: str
    variables: Mapping[str, Any]
    settings: Mapping[str, Any]  # of the live file (the running server started from it)


@dataclass(frozen=True)
class LiveRedis:
    runtime: RedisRuntime
    endpoint: RedisEndpoint | None  # a socket a redis-server owns; None when nothing may be sent


def config_command(settings: Mapping[str, Any]) -> str:
    """The name CONFIG has under ``rename-command CONFIG <name>`` ("" = disabled)."""
    name = "CONFIG"
    for entry in settings.get("rename-command") or ():
        if (
            isinstance(entry, tuple | list)
            and len(entry) == 2
            and str(entry[0]).upper() == "CONFIG"
        ):
            name = str(entry[1])
    return name


def _password(file: RedisFile) -> str | None:
    value = file.variables.get("redis_password") or file.settings.get("requirepass")
    return str(value) if value else None


def _endpoint(address: str, port: int, file: RedisFile) -> RedisEndpoint:
    return RedisEndpoint(address, port, _password(file), config_command(file.settings))


def live_redis(
    conn: Any,
    files: Sequence[RedisFile],
    processes: Iterable[ProcessFact],
    names: Iterable[str],
    timeout: float,
) -> tuple[dict[str, LiveRedis], dict[int, RedisRuntime]]:
    """Per managed path: the live state of the instance that runs from it; and per running
    redis-server (pid): what it said about itself (INFO server's ``config_file``), or why not."""
    servers = [p for p in processes if p.name == "redis-server"]
    names = sorted(set(names))
    if not servers:
        return {
            f.path: LiveRedis(RedisRuntime(False, state="not running"), None) for f in files
        }, {}
    reads: dict[tuple[str, int, str | None, str], RedisRuntime] = {}

    def read(endpoint: RedisEndpoint) -> RedisRuntime:
        key = (endpoint.address, endpoint.port, endpoint.password, endpoint.config_command)
        if key not in reads:
            reads[key] = read_redis(conn, endpoint, names, timeout)
        return reads[key]

    identity = {p.pid: _identify(p, files, read) for p in servers}
    out = {}
    for file in files:
        out[file.path] = _resolve(file, servers, identity, read)
    return out, identity


def _identify(process: ProcessFact, files: Sequence[RedisFile], read: Any) -> RedisRuntime:
    """INFO server of one process, through the socket it owns; the files' passwords tried in
    turn (the file whose ``port`` is the socket's first), until one is accepted."""
    listener = process.connect_listener()
    if listener is None:
        return RedisRuntime(
            True,
            pid=process.pid,
            state="unknown",
            error=f"redis-server pid {process.pid} owns no TCP listener that could be read "
            "(unix socket only, or its sockets are not visible to this user)",
        )
    ordered = sorted(
        files, key=lambda f: str(f.settings.get("port") or "6379") != str(listener.port)
    )
    runtime = RedisRuntime(
        True, pid=process.pid, state="unknown", error="no managed file to read it with"
    )
    tried: set[tuple[str | None, str]] = set()
    for file in ordered or [RedisFile("", {}, {})]:
        endpoint = _endpoint(listener.reach(), listener.port, file)
        if (endpoint.password, endpoint.config_command) in tried:
            continue
        tried.add((endpoint.password, endpoint.config_command))
        runtime = read(endpoint)
        if runtime.config_file or runtime.read:
            break
    return runtime


def _resolve(
    file: RedisFile, servers: Sequence[ProcessFact], identity: Mapping[int, RedisRuntime], read: Any
) -> LiveRedis:
    mine = [p for p in servers if identity[p.pid].config_file == file.path]
    host = file.variables.get("redis_host")
    port = file.variables.get("redis_port")
    if mine:
        listener = mine[0].connect_listener()
        assert listener is not None  # identified through it
        address, number = str(host or listener.reach()), int(port or listener.port)
    elif host or port:
        address, number = str(host or "127.0.0.1"), int(port or 6379)
    else:
        unidentified = [identity[p.pid] for p in servers if not identity[p.pid].config_file]
        if unidentified:
            reason = unidentified[0].error or "its config_file is unknown"
            return LiveRedis(RedisRuntime(True, state="unknown", error=reason), None)
        used = ", ".join(
            sorted(f"{identity[p.pid].config_file or '(none)'} (pid {p.pid})" for p in servers)
        )
        return LiveRedis(
            RedisRuntime(
                False,
                state="not running",
                error=f"no redis-server runs from this file (running: {used})",
            ),
            None,
        )
    owner = next(
        (p for p in servers if any(lst.accepts(address, number) for lst in p.listeners)), None
    )
    where = f"{address}:{number}"
    if owner is None:
        return LiveRedis(
            RedisRuntime(
                True,
                state="unknown",
                error=f"no redis-server process listens on {where} (check redis_host/"
                "redis_port): nothing was sent to it",
            ),
            None,
        )
    if mine and owner.pid != mine[0].pid:
        return LiveRedis(
            RedisRuntime(
                True,
                state="unknown",
                pid=owner.pid,
                error=f"{where} is redis-server pid {owner.pid}, which does not run from "
                f"{file.path} (pid {mine[0].pid} does)",
            ),
            None,
        )
    endpoint = _endpoint(address, number, file)
    runtime = read(endpoint)
    if runtime.pid is not None and runtime.pid != owner.pid:
        return LiveRedis(
            RedisRuntime(
                True,
                state="unknown",
                error=(
                    f"{where} answered as pid {runtime.pid}, not the redis-server pid {owner.pid} that owns it"
                ),
            ),
            None,
        )
    if runtime.config_file and runtime.config_file != file.path and not mine:
        return LiveRedis(
            RedisRuntime(
                True,
                state="unknown",
                pid=owner.pid,
                error=(f"{where} runs from {runtime.config_file}, not {file.path}"),
            ),
            None,
        )
    return LiveRedis(runtime, endpoint)


__all__ = ["LiveRedis", "RedisFile", "config_command", "live_redis"]
