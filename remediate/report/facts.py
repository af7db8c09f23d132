"""The view of `remediate facts`: per host, managed settings, live values, limits, health."""

from __future__ import annotations

from typing import Any

from remediate.model.outcomes import HostOutcome
from remediate.model.plans import SCHEMA
from remediate.report.exit import ExitCode, exit_code


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
            if redis["running"] and not redis["error"]:
                limit = (
                    f"{redis['nofile_soft']}/{redis['nofile_hard']}"
                    if redis["nofile_hard"]
                    else "unknown"
                )
                out.append(
                    (
                        "green",
                        (
                            f"  redis: PING ok, pid {redis['pid']}, {redis['connected_clients']} clients, "
                            f"maxclients {redis['maxclients']}, open files soft/hard {limit}"
                        ),
                    )
                )
                live = ", ".join(f"{k}={v}" for k, v in redis["config"].items())
                out.append(("", f"    live: {live}"))
            else:
                out.append(("yellow", f"  redis: {redis['error'] or 'not running'}"))
        rabbit = h["runtime"].get("rabbitmq")
        if rabbit is not None:
            if rabbit["running"]:
                out.append(
                    (
                        "green",
                        (
                            f"  rabbitmq: running, pid {rabbit['pid']}, heartbeat "
                            f"{rabbit['heartbeat'] if rabbit['heartbeat'] is not None else 'default (60)'}, "
                            f"open files {rabbit['nofile_soft']}/{rabbit['nofile_hard']}"
                        ),
                    )
                )
            else:
                out.append(("yellow", f"  rabbitmq: {rabbit['error'] or 'not running'}"))
    return out
