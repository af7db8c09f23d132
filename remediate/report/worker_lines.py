"""The text lines of ``remediate facts`` for a host's running Celery workers (the ``workers``
entries of the facts JSON, ``plan.host_facts.worker_summary``)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def worker_lines(workers: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """Per worker: pid, user, app, pool, concurrency, queues; interpreter and exact versions;
    broker connections with their keepalive state; supervisor and its restart setting."""
    if workers is None:
        return []
    if not workers:
        return [("dim", "  celery workers: none running")]
    out: list[tuple[str, str]] = []
    for w in workers:
        pool = w["pool"] or "prefork (default)"
        concurrency = w["concurrency"] if w["concurrency"] is not None else "default"
        queues = ",".join(w["queues"]) or "default"
        out.append(
            (
                "cyan",
                f"  celery worker pid {w['pid']} user {w['user'] or w['uid']} cwd {w['cwd']}: "
                f"-A {w['app'] or '?'}, pool {pool}, concurrency {concurrency}, queues {queues}"
                + (", --without-heartbeat" if w["without_heartbeat"] else ""),
            )
        )
        versions = ", ".join(
            f"{name} {version}" for name, version in w["versions"].items() if version
        )
        found = versions or "no celery/kombu/redis/amqp metadata found"
        out.append(("", f"    interpreter {w['interpreter']} (exe {w['exe']}): {found}"))
        connections = Counter((c["peer"], c["keepalive"]) for c in w["broker_connections"])
        shown = "; ".join(
            f"{peer} keepalive {state}" + (f" (x{n})" if n > 1 else "")
            for (peer, state), n in sorted(connections.items())
        )
        style = "yellow" if any(state == "off" for _, state in connections) else ""
        if not w.get("connections_read", True):
            style, shown = "red", "unknown (its fds cannot be read: run as root or its user)"
        out.append((style, f"    broker connections: {shown or 'none established'}"))
        out.append(("", f"    supervisor: {_supervisor(w['supervisor'])}"))
    return out


def _supervisor(s: dict[str, Any]) -> str:
    if s["kind"] == "systemd":
        if not s["read"]:
            return f"systemd {s['name']} (unit file not found on the host)"
        restart = s["restart"] or "(unset: no)"
        return f"systemd {s['name']} Restart={restart} ({', '.join(s['files'])})"
    if s["kind"] == "supervisord":
        return f"supervisord program {s['name'] or '(name not read)'} (autorestart not read)"
    return "none found (not in a systemd service, parent is not supervisord)"


__all__ = ["worker_lines"]
