"""The view of `remediate facts`: per host, managed settings, live values, limits, health."""

from __future__ import annotations

from typing import Any

from remediate.model.outcomes import HostOutcome
from remediate.model.plans import SCHEMA
from remediate.report.exit import ExitCode, exit_code
from remediate.report.worker_lines import worker_lines


def facts_exit_code(outcomes: list[HostOutcome[dict[str, Any]]]) -> ExitCode:
    return exit_code(
        failed=sum(bool(x.failed) for x in outcomes),
        unreachable=sum(bool(x.unreachable) for x in outcomes),
    )


def facts_json(outcomes: list[HostOutcome[dict[str, Any]]], code: int) -> dict[str, Any]:
    return {"schema": SCHEMA, "kind": "facts", "hosts": facts_hosts(outcomes), "exit_code": code}


def facts_hosts(outcomes: list[HostOutcome[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {"host": x.host, "unreachable": x.unreachable, "failed": x.failed, **(x.value or {})}
        for x in outcomes
    ]


def facts_lines(hosts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for h in hosts:
        if h["unreachable"] or h["failed"]:
            out.append(
                (
                    "red",
                    (
                        f"{h['host']}  {'UNREACHABLE' if h['unreachable'] else 'FAILED'}: "
                        f"{h['unreachable'] or h['failed']}"
                    ),
                )
            )
            continue
        out.append(("bold", f"{h['host']}  {h['address']}"))
        for path, f in h["files"].items():
            state = f"{f['mode']} {f['owner']}:{f['group']}" if f["exists"] else "absent"
            out.append(("cyan", f"  {path}  ({f['kind']}, {state})"))
            for key, value in f["settings"].items():
                out.append(("", f"    {key} = {value}"))
        redis = h["runtime"].get("redis")
        if redis is not None:
            instances = redis.get("instances") or {"": redis}
            for path, r in instances.items():
                out.extend(_redis_lines(r, redis, path))
        rabbit = h["runtime"].get("rabbitmq")
        if rabbit is not None:
            if rabbit.get("state", "read" if rabbit["running"] else "not running") == "read":
                out.append(
                    (
                        "green",
                        (
                            f"  rabbitmq: read, pid {rabbit['pid']}, heartbeat "
                            f"{rabbit['heartbeat'] if rabbit['heartbeat'] is not None else 'default (60)'}, "
                            f"open files {rabbit['nofile_soft']}/{rabbit['nofile_hard']}"
                        ),
                    )
                )
            else:
                out.append(
                    (
                        "red" if str(rabbit.get("state")).startswith("unknown") else "yellow",
                        f"  rabbitmq: {rabbit.get('state') or rabbit['error'] or 'not running'}",
                    )
                )
        for p in h["runtime"].get("processes", []):
            listens = ", ".join(p["listeners"]) or "no TCP listener"
            out.append(
                (
                    "dim",
                    f"  process {p['name']} pid {p['pid']} uid {p['uid']} {p['exe']}  listens {listens}",
                )
            )
            out.append(("dim", f"    argv: {' '.join(p['argv'])}  cwd {p['cwd']}"))
        out.extend(worker_lines(h["runtime"].get("workers")))
    return out


def _redis_lines(r: dict[str, Any], host_level: dict[str, Any], path: str) -> list[tuple[str, str]]:
    state = r.get("state") or (
        "read" if r["running"] and not r["error"] else r["error"] or "not running"
    )
    label = f"redis ({path})" if path else "redis"
    if state != "read":
        style = "red" if state.startswith("unknown") else "yellow"
        detail = f" ({r['error']})" if state == "not running" and r.get("error") else ""
        return [(style, f"  {label}: {state}{detail}")]
    hard = host_level.get("nofile_hard")
    limit = f"{host_level.get('nofile_soft')}/{hard}" if hard else "unknown"
    live = ", ".join(f"{k}={v}" for k, v in r["config"].items())
    return [
        (
            "green",
            (
                f"  {label}: read, PING ok, pid {r['pid']}, {r.get('config_file') or '(no config file)'}, "
                f"listener {r.get('listener')}, redis {r.get('version')}, {r['connected_clients']} clients, "
                f"maxclients {r['maxclients']}, open files soft/hard {limit}"
            ),
        ),
        ("", f"    live: {live}"),
    ]
