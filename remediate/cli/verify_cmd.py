"""``remediate verify``: prove on each worker host that a canary with the app's own settings
still consumes after an idle window on the real network path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remediate.cli import options as o


def verify(
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
    idle: Annotated[
        float | None,
        typer.Option(
            "--idle",
            help="Seconds the canary stays idle (default: above the largest known idle limit "
            "on the path: Redis timeout, remediate_path_idle_timeout; otherwise 400).",
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            help="Seconds the canary may take to consume after the publish (default: from "
            "health_check_interval, socket_timeout or the heartbeat in force).",
        ),
    ] = None,
    format: o.Format = "text",
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="Write Prometheus textfile metrics here (atomically)."),
    ] = None,
) -> None:
    """Start a canary worker with each host's own interpreter and broker settings, keep it idle,
    then publish one task from a fresh producer: exit 0 when every canary consumed within the
    budget, 2 when one did not, 4 unreachable, 1 error. Canaries never outlive the run."""
    from remediate import api
    from remediate.cli.output import ProgressLine, print_lines, warn, write_atomic
    from remediate.report.plans import dumps
    from remediate.report.verify import verify_lines, verify_metrics

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
        )
    )
    warn(fleet.warnings)
    with ProgressLine("verify") as progress:
        doc = api.verify(fleet, idle=idle, budget=budget, progress=progress)
    if metrics is not None:
        write_atomic(metrics, verify_metrics(doc), 0o644)
    if format == "json":
        typer.echo(dumps(doc), nl=False)
    else:
        print_lines(verify_lines(doc), getattr(ctx.obj, "color", False))
    raise typer.Exit(doc["exit_code"])
