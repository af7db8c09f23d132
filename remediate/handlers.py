"""Handlers: a command run once per host after its files change, then a health check."""

from __future__ import annotations

import time

from remediate.connection import Connection
from remediate.playbook import Handler
from remediate.runs import HandlerResult
from remediate.runtime import redis_ping

CHECK_WAIT = 60.0  # seconds a health check waits for a restarted service


def run_handler(conn: Connection, handler: Handler, redis: tuple[str, int, str | None] | None,
                timeout: float) -> HandlerResult:
    """Run a handler's command, then its health check."""
    result = conn.run(["sh", "-c", handler.command], timeout=max(timeout, 120))
    output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()[-500:]
    if not result.ok:
        return HandlerResult(handler.name, handler.command, handler.check, False, f"exit {result.exited}: {output}")
    ok, detail = health_check(conn, handler.check, redis, timeout)
    return HandlerResult(handler.name, handler.command, handler.check, ok, detail or output)


def health_check(conn: Connection, check: str | None, redis: tuple[str, int, str | None] | None,
                 timeout: float, wait: float = CHECK_WAIT) -> tuple[bool, str]:
    """``redis_ping``, ``rabbitmq_running`` (both wait for the service), or a shell command."""
    if not check:
        return True, ""
    if check == "redis_ping":
        if redis is None:
            return False, "redis_ping: this host manages no redis.conf"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if redis_ping(conn, redis[0], redis[1], redis[2], min(timeout, 5)):
                return True, "redis_ping: PONG"
            time.sleep(0.5)
        return False, f"redis_ping: no answer from {redis[0]}:{redis[1]} within {wait:g} s"
    if check == "rabbitmq_running":
        script = (f"end=$(( $(date +%s) + {int(wait)} )); while [ $(date +%s) -lt $end ]; do "
                  "rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
        result = conn.run(["sh", "-c", script], timeout=wait + 30)
        return result.ok, "rabbitmq_running: node up" if result.ok else "rabbitmq_running: node not running"
    result = conn.run(["sh", "-c", check], timeout=max(timeout, 60))
    output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()[-300:]
    return result.ok, output if result.ok else f"check exit {result.exited}: {output}"
