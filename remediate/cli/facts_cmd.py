"""``remediate facts``: live file values, runtime values, open-file limits and broker health."""

from __future__ import annotations

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
    user: o.User = None,
    private_key: o.PrivateKey = None,
    extra_vars: o.ExtraVars = None,
    become: o.Become = False,
    become_user: o.BecomeUser = None,
    ask_become_pass: o.AskBecomePass = False,
    format: o.Format = "text",
) -> None:
    """Show what each host runs with: managed settings in its files, live values, limits, health."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines, warn
    from remediate.report.facts import facts_exit_code, facts_hosts, facts_json, facts_lines
    from remediate.report.plans import dumps

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
    with ProgressLine("gathering facts") as progress:
        outcomes = api.facts(fleet, progress)
    code = facts_exit_code(outcomes)
    if format == "json":
        typer.echo(dumps(facts_json(outcomes, code)), nl=False)
    else:
        print_lines(facts_lines(facts_hosts(outcomes)), ctx.obj.color)
    raise typer.Exit(code)
