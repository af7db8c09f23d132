"""``remediate audit`` (for cron) and ``remediate report merge`` (for sharded runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from remediate.cli import options as o

report_app = typer.Typer(
    help="Work with JSON reports of plan and audit runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def audit(
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
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the full JSON report here (atomically).")
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="Write Prometheus textfile metrics here (atomically)."),
    ] = None,
) -> None:
    """Plan, and stay silent when the fleet is clean (exit 0); a short summary on drift (exit 2)."""
    from remediate import api
    from remediate.cli.output import warn
    from remediate.report.audit import audit_summary

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
            note=False,
        )
    )
    warn(fleet.warnings)
    doc = api.audit(fleet)
    _write_outputs(doc, report, metrics)
    summary = audit_summary(doc)
    if summary:
        typer.echo(summary)
    raise typer.Exit(doc["exit_code"])


def _write_outputs(doc: dict[str, Any], report: Path | None, metrics: Path | None) -> None:
    from remediate.cli.output import write_atomic
    from remediate.report.metrics import render_metrics
    from remediate.report.plans import dumps

    if report is not None:
        write_atomic(report, dumps(doc), 0o600)
    if metrics is not None:
        from remediate.rules import RULES

        catalog = {rule.id: (rule.kind, rule.severity) for rule in RULES.values()}
        write_atomic(metrics, render_metrics(doc, catalog), 0o644)


@report_app.command("merge")
def merge(
    reports: Annotated[list[Path], typer.Argument(help="JSON reports of plan or audit shards.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the merged JSON here (else stdout).")
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="Also write Prometheus metrics of the merged report."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Print nothing; only the exit code.")
    ] = False,
) -> None:
    """Join shard reports (from --shard K/N) into the report one run over the fleet would give."""
    from remediate.errors import ParseError, ReportMergeError
    from remediate.report.plans import dumps, merge_reports

    docs = []
    for path in reports:
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ParseError(f"not a JSON report ({exc})", path=str(path)) from None
    try:
        merged = merge_reports(docs, [str(path) for path in reports])
    except (ValueError, KeyError, TypeError) as exc:
        raise ReportMergeError(f"cannot merge: {exc}") from None
    if out is not None or metrics is not None:
        _write_outputs(merged, out, metrics)
    if out is None and not quiet:
        typer.echo(dumps(merged), nl=False)
    raise typer.Exit(merged["exit_code"])
