"""Handlers: a command run once per host after its files change, then a health check.

``run_handlers`` runs a host's notified handlers in order, stopping at the first failure,
in as few round trips as it can: every handler and shell-level check (a command, or
``rabbitmq_running``) up to the next ``redis_ping`` goes in one script, each command in its
own subshell (``eval`` of the quoted text, as ``sh -c`` would run it). ``redis_ping`` is
spoken over the SSH connection between scripts.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from remediate.model.facts import RedisEndpoint
from remediate.model.runs import HandlerResult
from remediate.model.timeouts import Timeouts
from remediate.playbook.schema import Handler
from remediate.remote.connection import Connection
from remediate.remote.gather import new_boundary
from remediate.remote.runtime import redis_ping, redis_replica_link

CHECK_WAIT = Timeouts().check_wait  # the rabbitmq_running script's own wait, seconds


def run_handler(
    conn: Connection, handler: Handler, redis: RedisEndpoint | None, timeouts: Timeouts
) -> HandlerResult:
    """Run a handler's command, then its health check."""
    result = conn.run(["sh", "-c", handler.command], timeout=timeouts.handler)
    output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()[-500:]
    if not result.ok:
        return HandlerResult(
            handler.name, handler.command, handler.check, False, f"exit {result.exited}: {output}"
        )
    ok, detail = health_check(conn, handler.check, redis, timeouts)
    return HandlerResult(handler.name, handler.command, handler.check, ok, detail or output)


def run_handlers(
    conn: Connection, handlers: Sequence[Handler], redis: RedisEndpoint | None, timeouts: Timeouts
) -> list[HandlerResult]:
    """Run ``handlers`` in order and check each; stops after the first that fails."""
    results: list[HandlerResult] = []
    start = 0
    while start < len(handlers):
        end = start
        while end < len(handlers) and handlers[end].check != "redis_ping":
            end += 1
        batch = list(
            handlers[start : min(end + 1, len(handlers))]
        )  # the redis_ping one runs its command here too
        results += _run_batch(conn, batch, timeouts)
        if not results[-1].ok:
            return results
        last = batch[-1]
        if last.check == "redis_ping":
            ok, detail = health_check(conn, last.check, redis, timeouts)
            results[-1] = HandlerResult(last.name, last.command, last.check, ok, detail)
            if not ok:
                return results
        start += len(batch)
    return results


def _run_batch(
    conn: Connection, batch: Sequence[Handler], timeouts: Timeouts
) -> list[HandlerResult]:
    """One script for ``batch``: each command, then its shell-level check, until one fails."""
    boundary = new_boundary()
    lines = [f"B={boundary}"]
    for i, handler in enumerate(batch):
        lines.append(_framed(f"C{i}", handler.command))
        check = _check_script(handler.check)
        if check:
            lines.append(_framed(f"K{i}", check))
    wait = sum(timeouts.handler + (timeouts.check_wait + 30 if h.check else 0) for h in batch)
    reply = conn.run(["sh", "-s"], stdin=("\n".join(lines) + "\n").encode(), timeout=wait)
    steps = _parse_batch(reply.stdout, boundary)
    results: list[HandlerResult] = []
    for i, handler in enumerate(batch):
        if f"C{i}" not in steps:  # the script died before it got here
            return [
                *results,
                HandlerResult(
                    handler.name,
                    handler.command,
                    handler.check,
                    False,
                    f"handler script stopped (exit {reply.exited})",
                ),
            ]
        status, output = steps[f"C{i}"]
        text = output.decode("utf-8", "replace").strip()
        if status != 0:
            return [
                *results,
                HandlerResult(
                    handler.name,
                    handler.command,
                    handler.check,
                    False,
                    f"exit {status}: {text[-500:]}",
                ),
            ]
        if not _check_script(handler.check):  # none, or redis_ping (the caller's)
            results.append(
                HandlerResult(handler.name, handler.command, handler.check, True, text[-500:])
            )
            continue
        status, check_output = steps.get(f"K{i}", (-1, b"check did not run"))
        ok, detail = _check_outcome(handler.check or "", status, check_output)
        results.append(
            HandlerResult(handler.name, handler.command, handler.check, ok, detail or text[-500:])
        )
        if not ok:
            return results
    return results


def _framed(label: str, command: str) -> str:
    """Run ``command``; print its output and status between boundary lines; stop if it failed.

    The command text travels as one quoted word and runs through ``eval`` in a subshell:
    like ``sh -c`` it cannot reach into the script (quotes, comments, ``exit`` stay its own),
    without an exec of another shell.
    """
    return (
        f"c={shlex.quote(command)}; printf '\\n%s O {label}\\n' \"$B\"; "
        f'( eval "$c" ) 2>&1 </dev/null; st=$?; '
        f"printf '\\n%s S {label} %s\\n' \"$B\" $st; [ $st -eq 0 ] || exit 0"
    )


def _parse_batch(stdout: bytes, boundary: str) -> dict[str, tuple[int, bytes]]:
    """Pure: label -> (exit status, output) for every step that finished."""
    steps: dict[str, tuple[int, bytes]] = {}
    output: dict[str, bytes] = {}
    for record in (b"\n" + stdout).split(b"\n" + boundary.encode() + b" ")[1:]:
        header, _, body = record.partition(b"\n")
        words = header.decode("ascii", "replace").split()
        if len(words) >= 2 and words[0] == "O":
            output[words[1]] = body
        elif len(words) == 3 and words[0] == "S" and words[2].lstrip("-").isdigit():
            steps[words[1]] = (int(words[2]), output.get(words[1], b""))
    return steps


def _check_script(check: str | None) -> str | None:
    """The shell a check runs on the host; None for no check and for redis_ping."""
    if not check or check == "redis_ping":
        return None
    if check == "rabbitmq_running":
        return _RABBITMQ_RUNNING
    return check


def _check_outcome(check: str, status: int, output: bytes) -> tuple[bool, str]:
    if check == "rabbitmq_running":
        return rabbitmq_outcome(status, output)
    text = output.decode("utf-8", "replace").strip()[-300:]
    return status == 0, text if status == 0 else f"check exit {status}: {text}"


#: the node is up (await_startup), has no local alarms, then its cluster view as JSON
_RABBITMQ_RUNNING = (
    f"end=$(( $(date +%s) + {int(CHECK_WAIT)} )); up=1; while [ $(date +%s) -lt $end ]; do "
    "if rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1; then up=0; break; fi; "
    "sleep 1; done; [ $up -eq 0 ] || exit 1; "
    "rabbitmq-diagnostics -q check_local_alarms >/dev/null 2>&1 || exit 2; "
    "rabbitmqctl -q cluster_status --formatter json 2>/dev/null || exit 3"
)


def rabbitmq_outcome(status: int, output: bytes) -> tuple[bool, str]:
    """Pure: the rabbitmq_running check's verdict from its exit status and cluster_status JSON.

    Healthy: the node runs, has no local alarm, and every member of its cluster (disk and RAM
    nodes) is running as this node sees it, with no network partition."""
    import json

    if status == 1:
        return False, "rabbitmq_running: node not running"
    if status == 2:
        return False, "rabbitmq_running: node has local alarms (check_local_alarms)"
    if status != 0:
        return False, "rabbitmq_running: cluster_status failed"
    text = output.decode("utf-8", "replace").strip()
    start = text.find("{")
    try:
        doc = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return False, "rabbitmq_running: cluster_status gave no JSON"
    members = {str(n) for n in [*doc.get("disk_nodes", []), *doc.get("ram_nodes", [])]}
    running = {str(n) for n in doc.get("running_nodes", [])}
    missing = sorted(members - running)
    if missing:
        return False, f"rabbitmq_running: cluster members not running: {', '.join(missing)}"
    partitions = doc.get("partitions") or {}
    if any(partitions.values() if isinstance(partitions, dict) else partitions):
        return False, f"rabbitmq_running: network partition: {partitions}"
    return True, f"rabbitmq_running: node up, no alarms, {len(running)} of {len(members)} running"


def health_check(
    conn: Connection, check: str | None, redis: RedisEndpoint | None, timeouts: Timeouts
) -> tuple[bool, str]:
    """``redis_ping``, ``rabbitmq_running`` (both wait for the service), or a shell command."""
    if not check:
        return True, ""
    if check == "redis_ping":
        if redis is None:
            return False, "redis_ping: this host manages no redis.conf"
        wait = timeouts.check_wait
        deadline = time.monotonic() + wait
        problem = f"no answer from {redis}"
        while time.monotonic() < deadline:
            if redis_ping(conn, redis, timeouts.ping):
                link = redis_replica_link(conn, redis, timeouts.ping)  # replicas: link up too
                if link is None:
                    return True, "redis_ping: PONG"
                problem = link
            time.sleep(0.5)
        return False, f"redis_ping: {problem} within {wait:g} s"
    script = _check_script(check)
    assert script is not None
    result = conn.run(
        ["sh", "-c", script],
        timeout=timeouts.check if check != "rabbitmq_running" else timeouts.check_wait + 30,
    )
    return _check_outcome(check, result.exited, result.stdout + result.stderr)
