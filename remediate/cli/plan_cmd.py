"""``remediate plan``: what is live, what should be, and exactly what would change."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from remediate.cli import options as o


def plan(
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
    user: o.User = None,
    private_key: o.PrivateKey = None,
    extra_vars: o.ExtraVars = None,
    become: o.Become = False,
    become_user: o.BecomeUser = None,
    ask_become_pass: o.AskBecomePass = False,
    format: o.Format = "text",
    list_hosts: o.ListHosts = False,
    diff: o.Diff = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Save the plan as JSON for `apply --plan`.")
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there is drift.")
    ] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Only the per-setting lines and the recap, no diffs.")
    ] = False,
) -> None:
    """Show, per host and file, what would change (nothing is written to any host)."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines, warn, write_atomic
    from remediate.report.plans import dumps, plan_exit_code, plan_json, plan_text

    o.check_format(format, ("text", "json"))
    fleet = api.select(
        o.select(
            inventory=inventory,
            playbook=playbook,
            limit=limit,
            forks=forks,
            timeout=timeout,
            templates=templates,
            shard=shard,
            accept_new_host_keys=accept_new_host_keys,
            vault_id=vault_id,
            vault_password_file=vault_password_file,
            ask_vault_pass=ask_vault_pass,
            ctx=ctx,
            flags=o.connection_flags(
                user, private_key, extra_vars, become, become_user, ask_become_pass
            ),
        )
    )
    warn(fleet.warnings)
    started, begun = time.time(), time.monotonic()
    if list_hosts:
        from remediate.report.hosts import list_hosts_lines

        assert fleet.plays is not None
        per_play = fleet.plays.per_play
        names = [t.host.name for t in fleet.targets]
        typer.echo("\n".join(list_hosts_lines(str(fleet.select.playbook), per_play, names)))
        raise typer.Exit(0)
    with ProgressLine("planning") as progress:
        plans = api.plan(fleet, progress)
    code = plan_exit_code(plans, detailed_exitcode)
    if out is not None or format == "json":
        doc = plan_json(
            plans,
            exit_code=code,
            extra={"inputs": fleet.select.inputs(), **api.run_times(started, begun)},
            shard=fleet.select.shard,
        )
        if out is not None:
            write_atomic(out, dumps(doc), 0o600)
    if format == "json":
        typer.echo(dumps(doc), nl=False)
    else:
        print_lines(plan_text(plans, summary=summary), ctx.obj.color)
    raise typer.Exit(code)
