"""``remediate facts``: live file values, runtime values, open-file limits and broker health."""

from __future__ import annotations

from typing import Any

import typer

from remediate.cli import options as o


def facts(
    ctx: typer.Context,
    inventory: o.Inventory = o.DEFAULT_INVENTORY,
    playbook: o.Playbook = o.DEFAULT_PLAYBOOK,
    limit: o.Limit = None,
    forks: o.Forks = 50,
    timeout: o.Timeout = 10.0,
    templates: o.Templates = o.DEFAULT_TEMPLATES,
    shard: o.Shard = None,
    accept_new_host_keys: o.AcceptNew = False,
    vault_id: o.VaultId = None,
    vault_password_file: o.VaultPasswordFile = None,
    ask_vault_pass: o.AskVaultPass = False,
    format: o.Format = "text",
) -> None:
    """Show what each host runs with: managed settings in its files, live values, limits, health."""
    from remediate.cli.output import ProgressLine, print_lines
    from remediate.engine.fanout import run_on_hosts
    from remediate.engine.survey import survey_target
    from remediate.report.plans import dumps

    o.check_format(format, ("text", "json"))
    sel = o.Selection.of(inventory=inventory, playbook=playbook, limit=limit, forks=forks, timeout=timeout,
                         templates=templates, shard=shard, accept_new_host_keys=accept_new_host_keys,
                         vault=o.vault_options(vault_id, vault_password_file, ask_vault_pass))
    targets, renderer = sel.prepare()
    by_name = {t.host.name: t for t in targets}
    progress = ProgressLine("gathering facts")
    outcomes = run_on_hosts([t.host for t in targets],
                            lambda conn: host_facts(survey_target(conn, by_name[conn.host.name], renderer,
                                                                  sel.timeout)),
                            sel.connect_options(), sel.forks, progress)
    progress.done()
    hosts = [{"host": x.host, "unreachable": x.unreachable, "failed": x.failed, **(x.value or {})}
             for x in outcomes]
    code = 1 if any(x.failed for x in outcomes) else 4 if any(x.unreachable for x in outcomes) else 0
    if format == "json":
        from remediate.model.plans import SCHEMA

        typer.echo(dumps({"schema": SCHEMA, "kind": "facts", "hosts": hosts, "exit_code": code}), nl=False)
    else:
        print_lines(facts_lines(hosts), ctx.obj.color)
    raise typer.Exit(code)


def host_facts(survey: Any) -> dict[str, Any]:
    """Managed settings as the files have them (secrets masked) and the runtime facts."""
    from remediate.formats import ABSENT
    from remediate.model.secrets import Masker
    from remediate.plan.planner import SECRET_SETTINGS, display_value

    masker = Masker()
    files = {}
    for planned in survey.planned:
        masker.add(getattr(planned.live_doc, "secrets", list)() if planned.live_doc else [])
    for planned in survey.planned:
        values = {}
        live = dict(planned.live_doc.managed_items()) if planned.live_doc else {}
        for key in planned.managed:
            value = live.get(key, ABSENT)
            secret = key.lower() in SECRET_SETTINGS.get(planned.plan.kind, set())
            values[key] = "(unset)" if value is ABSENT else "********" if secret else masker(
                display_value(value, planned.plan.kind))
        files[planned.plan.path] = {"kind": planned.plan.kind, "exists": planned.plan.exists,
                                    "mode": planned.plan.mode, "owner": planned.plan.owner,
                                    "group": planned.plan.group, "settings": values}
    return {"address": survey.plan.address, "files": files, "runtime": survey.plan.facts}


def facts_lines(hosts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for h in hosts:
        if h["unreachable"] or h["failed"]:
            out.append(("red", (f"{h['host']}  {'UNREACHABLE' if h['unreachable'] else 'FAILED'}: "
                               f"{h['unreachable'] or h['failed']}")))
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
                limit = f"{redis['nofile_soft']}/{redis['nofile_hard']}" if redis["nofile_hard"] else "unknown"
                out.append(("green", (f"  redis: PING ok, pid {redis['pid']}, {redis['connected_clients']} clients, "
                                     f"maxclients {redis['maxclients']}, open files soft/hard {limit}")))
                live = ", ".join(f"{k}={v}" for k, v in redis["config"].items())
                out.append(("", f"    live: {live}"))
            else:
                out.append(("yellow", f"  redis: {redis['error'] or 'not running'}"))
        rabbit = h["runtime"].get("rabbitmq")
        if rabbit is not None:
            if rabbit["running"]:
                out.append(("green", (f"  rabbitmq: running, pid {rabbit['pid']}, heartbeat "
                                     f"{rabbit['heartbeat'] if rabbit['heartbeat'] is not None else 'default (60)'}, "
                                     f"open files {rabbit['nofile_soft']}/{rabbit['nofile_hard']}")))
            else:
                out.append(("yellow", f"  rabbitmq: {rabbit['error'] or 'not running'}"))
    return out
