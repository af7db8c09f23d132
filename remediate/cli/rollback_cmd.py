"""``remediate rollback`` and ``remediate runs``: undo a past run fleet-wide; list the runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from remediate.cli import options as o


def rollback(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(help="The run to undo (see `remediate runs`).")
    ] = None,
    last: Annotated[
        bool,
        typer.Option(
            "--last", help="Undo the last apply run (a rollback is undone only by its own id)."
        ),
    ] = False,
    inventory: o.Inventory = o.DEFAULT_INVENTORY,
    limit: o.Limit = None,
    forks: o.Forks = 50,
    timeout: o.Timeout = 10.0,
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
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be restored; change nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore files even if they changed since the run.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Restore the files and live values a run changed (a rollback is a run too: it can be undone)."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines
    from remediate.errors import UsageError
    from remediate.report.plans import dumps
    from remediate.report.runs import rollback_exit_code, rollback_json, rollback_lines

    o.check_format(format, ("text", "json"))
    if bool(run_id) == last:
        raise UsageError("give a RUN_ID or --last (not both)")
    if not (yes or dry_run) and not sys.stdin.isatty():
        raise UsageError("refusing to roll back without --yes: there is no terminal to confirm on")
    sel = o.select(
        inventory=inventory,
        limit=limit,
        forks=forks,
        timeout=timeout,
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
    if not (yes or dry_run):  # show each host's plan, then ask
        with ProgressLine("planning the rollback") as progress:
            planned = api.rollback(sel, run_id, force=force, dry_run=True, progress=progress)
        print_lines(rollback_lines(planned, True, run_id), ctx.obj.color)
        run_id = next((r.of_run for r in planned if r.of_run), run_id)
        todo = [r for r in planned if r.restored or r.removed or r.runtime]
        if not run_id or not todo:
            typer.echo("nothing to roll back", err=True)
            raise typer.Exit(rollback_exit_code(planned, run_id))
        if not typer.confirm(f"Roll back run {run_id} on {len(todo)} host(s)?", default=False):
            typer.echo("nothing was changed", err=True)
            raise typer.Exit(1)
    with ProgressLine("rolling back") as progress:
        results = api.rollback(sel, run_id, force=force, dry_run=dry_run, progress=progress)
    code = rollback_exit_code(results, run_id)
    if format == "json":
        typer.echo(dumps(rollback_json(results, dry_run, code)), nl=False)
    else:
        print_lines(rollback_lines(results, dry_run, run_id), ctx.obj.color)
    raise typer.Exit(code)


def runs(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(help="Show this run on each host it touched.")
    ] = None,
    inventory: o.Inventory = o.DEFAULT_INVENTORY,
    limit: o.Limit = None,
    forks: o.Forks = 50,
    timeout: o.Timeout = 10.0,
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
) -> None:
    """Past runs fleet-wide (id, start, command, hosts changed/failed); with RUN_ID, per host."""
    from remediate import api
    from remediate.cli.output import print_lines
    from remediate.report.plans import dumps
    from remediate.report.runs import runs_exit_code, runs_json, runs_lines

    o.check_format(format, ("text", "json"))
    outcomes = api.runs(
        o.select(
            inventory=inventory,
            limit=limit,
            forks=forks,
            timeout=timeout,
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
    code = runs_exit_code(outcomes)
    if format == "json":
        typer.echo(dumps(runs_json(outcomes, code, run_id)), nl=False)
    else:
        print_lines(runs_lines(outcomes, run_id), ctx.obj.color)
    raise typer.Exit(code)
