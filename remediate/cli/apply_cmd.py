"""``remediate apply``: change the fleet safely (backups, atomic writes, rollback on failure)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from remediate.cli import options as o


def apply(
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
    check: Annotated[
        bool, typer.Option("-C", "--check", help="Change nothing: show the plan (as --dry-run).")
    ] = False,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="Execute exactly this saved plan (from plan --out)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    serial: Annotated[
        str | None, typer.Option("--serial", help="Apply in batches of N hosts or N%.")
    ] = None,
    max_fail_percent: Annotated[
        float | None,
        typer.Option(
            "--max-fail-percent",
            min=0,
            max=100,
            help="Stop later batches when more than P% of a batch fails.",
        ),
    ] = None,
    allow_pending_live: Annotated[
        bool,
        typer.Option(
            "--allow-pending-live",
            help="Write files even where the running server's live values cannot be read (the host is 'pending restart'); without it such a host fails before any write.",
        ),
    ] = False,
) -> None:
    """Apply the plan: per host lock, back up, write atomically, set live values, run handlers, verify."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines, warn
    from remediate.errors import UsageError
    from remediate.report.apply import apply_exit_code, apply_json, apply_text
    from remediate.report.plans import dumps, plan_exit_code, plan_json, plan_text

    o.check_format(format, ("text", "json"))
    dry_run = dry_run or check
    expected = None
    if plan_file is not None:
        saved = _load_saved_plan(plan_file)
        inputs = saved["inputs"]
        inventory = [Path(p) for p in inputs["inventory"]]
        playbook, templates = Path(inputs["playbook"]), Path(inputs["templates"])
        limit, shard = inputs.get("limit"), inputs.get("shard")
        expected = {p.host: p for p in saved["plans"]}
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
    if list_hosts:
        from remediate.report.hosts import list_hosts_lines

        assert fleet.plays is not None
        per_play = fleet.plays.per_play
        names = [t.host.name for t in fleet.targets]
        typer.echo("\n".join(list_hosts_lines(str(fleet.select.playbook), per_play, names)))
        raise typer.Exit(0)
    if expected is not None:
        fleet = replace(fleet, targets=[t for t in fleet.targets if t.host.name in expected])
    api.check_serial(fleet, serial)
    if dry_run and expected is not None:
        _show_saved_plan(ctx, fleet, expected, format)
    if dry_run or (not yes and expected is None):
        if not dry_run and not sys.stdin.isatty():
            raise UsageError("refusing to apply without --yes: there is no terminal to confirm on")
        with ProgressLine("planning") as progress:
            plans = api.plan(fleet, progress)
        if format == "json" and dry_run:
            typer.echo(
                dumps(
                    plan_json(plans, kind="apply-dry-run", exit_code=plan_exit_code(plans, False))
                ),
                nl=False,
            )
        else:
            print_lines(plan_text(plans), ctx.obj.color)
        if dry_run:
            typer.echo("dry run: nothing was changed", err=True)
            raise typer.Exit(plan_exit_code(plans, False))
        if not any(p.changed for p in plans):
            typer.echo("nothing to change", err=True)
            raise typer.Exit(plan_exit_code(plans, False))
        if not typer.confirm("Apply these changes?", default=False):
            typer.echo("nothing was changed", err=True)
            raise typer.Exit(1)
        expected = {p.host: p for p in plans if p.status in ("changed", "ok")}
    elif not yes and not sys.stdin.isatty():
        raise UsageError("refusing to apply without --yes: there is no terminal to confirm on")
    with ProgressLine("applying") as progress:
        results = api.apply(
            fleet,
            serial=serial,
            max_fail_percent=max_fail_percent,
            expected=expected,
            progress=progress,
            allow_pending_live=allow_pending_live,
        )
    code = apply_exit_code(results)
    if format == "json":
        typer.echo(dumps(apply_json(results, code)), nl=False)
    else:
        print_lines(apply_text(results), ctx.obj.color)
    raise typer.Exit(code)


def _show_saved_plan(ctx: typer.Context, fleet: Any, expected: dict[str, Any], format: str) -> None:
    """``apply --plan X --dry-run``: exactly what X would do (its own changes, not a new
    plan), and per host whether it still applies or would be refused as stale."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines
    from remediate.report.exit import ExitCode, combined
    from remediate.report.plans import dumps, plan_exit_code, plan_json, plan_text
    from remediate.report.saved import saved_plan_lines

    saved = list(expected.values())
    with ProgressLine("checking the saved plan") as progress:
        stale = api.stale_plans(fleet, expected, progress)
    code = combined([plan_exit_code(saved, False), ExitCode.ERROR if stale else ExitCode.OK])
    if format == "json":
        doc = plan_json(saved, kind="apply-dry-run", exit_code=code)
        doc["stale"] = dict(sorted(stale.items()))
        typer.echo(dumps(doc), nl=False)
    else:
        print_lines(plan_text(saved) + saved_plan_lines(saved, stale), ctx.obj.color)
    typer.echo("dry run: nothing was changed", err=True)
    raise typer.Exit(code)


def _load_saved_plan(path: Path) -> dict[str, Any]:
    from remediate.errors import UsageError
    from remediate.report.plans import plans_from_json

    try:
        doc = json.loads(path.read_text())
        return {"inputs": doc["inputs"], "plans": plans_from_json(doc)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a saved plan from `remediate plan --out` ({exc})") from None
