"""``remediate rollback`` and ``remediate runs``: undo a past run; list runs per host."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from remediate.cli import options as o


def rollback(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="The run to undo (see `remediate runs`).")] = None,
    last: Annotated[bool, typer.Option("--last", help="Undo each host's most recent run.")] = False,
    inventory: o.Inventory = o.DEFAULT_INVENTORY,
    limit: o.Limit = None,
    forks: o.Forks = 50,
    timeout: o.Timeout = 10.0,
    shard: o.Shard = None,
    accept_new_host_keys: o.AcceptNew = False,
    vault_id: o.VaultId = None,
    vault_password_file: o.VaultPasswordFile = None,
    ask_vault_pass: o.AskVaultPass = False,
    format: o.Format = "text",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be restored; change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Restore files even if they changed since the run.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Restore the files and live values a run changed (a rollback is a run too: it can be undone)."""
    from remediate.cli.output import ProgressLine, print_lines
    from remediate.engine.batches import inventory_targets, rollback_fleet
    from remediate.errors import UsageError
    from remediate.report.plans import dumps

    o.check_format(format, ("text", "json"))
    if bool(run_id) == last:
        raise UsageError("give a RUN_ID or --last (not both)")
    if not (yes or dry_run) and not sys.stdin.isatty():
        raise UsageError("refusing to roll back without --yes: there is no terminal to confirm on")
    if not (yes or dry_run) and not typer.confirm(f"Roll back {run_id or 'the last run'} on the selected hosts?"):
        raise typer.Exit(1)
    sel = o.Selection.of(inventory=inventory, playbook=o.DEFAULT_PLAYBOOK, limit=limit, forks=forks,
                         timeout=timeout, templates=o.DEFAULT_TEMPLATES, shard=shard,
                         accept_new_host_keys=accept_new_host_keys,
                         vault=o.vault_options(vault_id, vault_password_file, ask_vault_pass))
    targets = inventory_targets(sel.load_inventory(), sel.limit, sel.shard)
    progress = ProgressLine("rolling back")
    results = rollback_fleet(targets, run_id, force, dry_run, sel.connect_options(), sel.forks, progress)
    progress.done()
    statuses = {r.status for r in results}
    code = 1 if statuses & {"failed", "rolled back"} else 4 if "unreachable" in statuses else 0
    if format == "json":
        from remediate import __version__
        from remediate.model.plans import SCHEMA, to_json

        typer.echo(dumps({"schema": SCHEMA, "kind": "rollback", "tool": f"remediate {__version__}",
                          "dry_run": dry_run, "hosts": to_json(results), "exit_code": code}), nl=False)
    else:
        print_lines(rollback_lines(results, dry_run), ctx.obj.color)
    raise typer.Exit(code)


def rollback_lines(results: list[Any], dry_run: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    verb = "would restore" if dry_run else "restored"
    for r in results:
        head = f"{r.host}: {r.status}"
        if r.of_run:
            head += f"  (undoing run {r.of_run}{', as run ' + r.run_id if r.run_id else ''})"
        out.append(({"changed": "yellow", "ok": "green"}.get(r.status, "red"), head))
        out += [("", f"    {verb} {path}") for path in r.restored]
        out += [("", f"    runtime {line}") for line in r.runtime]
        out += [("yellow", f"    skipped {why}") for why in r.skipped]
        if r.error:
            out.append(("red", f"    {r.error}"))
    if dry_run:
        out.append(("bold", "dry run: nothing was changed"))
    return out


def runs(
    ctx: typer.Context,
    inventory: o.Inventory = o.DEFAULT_INVENTORY,
    limit: o.Limit = None,
    forks: o.Forks = 50,
    timeout: o.Timeout = 10.0,
    shard: o.Shard = None,
    accept_new_host_keys: o.AcceptNew = False,
    vault_id: o.VaultId = None,
    vault_password_file: o.VaultPasswordFile = None,
    ask_vault_pass: o.AskVaultPass = False,
    format: o.Format = "text",
) -> None:
    """Past runs per host: run id, time, kind, status and files, from each host's backup directory."""
    from remediate.cli.output import print_lines
    from remediate.engine.batches import inventory_targets, runs_fleet
    from remediate.report.plans import dumps

    o.check_format(format, ("text", "json"))
    sel = o.Selection.of(inventory=inventory, playbook=o.DEFAULT_PLAYBOOK, limit=limit, forks=forks,
                         timeout=timeout, templates=o.DEFAULT_TEMPLATES, shard=shard,
                         accept_new_host_keys=accept_new_host_keys,
                         vault=o.vault_options(vault_id, vault_password_file, ask_vault_pass))
    targets = inventory_targets(sel.load_inventory(), sel.limit, sel.shard)
    outcomes = runs_fleet(targets, sel.connect_options(), sel.forks)
    code = 4 if any(o_.unreachable for o_ in outcomes) else 1 if any(o_.failed for o_ in outcomes) else 0
    if format == "json":
        from remediate.model.plans import SCHEMA

        hosts = [{"host": x.host, "unreachable": x.unreachable, "failed": x.failed,
                  "runs": [_run_json(m) for m in (x.value or [])]} for x in outcomes]
        typer.echo(dumps({"schema": SCHEMA, "kind": "runs", "hosts": hosts, "exit_code": code}), nl=False)
    else:
        lines: list[tuple[str, str]] = []
        for x in outcomes:
            if not x.ok:
                lines.append(("red", f"{x.host}: {x.unreachable or x.failed}"))
                continue
            lines.append(("bold", f"{x.host}: {len(x.value or [])} runs"))
            for m in reversed(x.value or []):
                of = f" of {m.of_run}" if m.of_run else ""
                files = ", ".join(f.path for f in m.files)
                lines.append(("", f"    {m.run_id}  {m.started}  {m.kind}{of}  {m.status}  {files}"))
        print_lines(lines, ctx.obj.color)
    raise typer.Exit(code)


def _run_json(m: Any) -> dict[str, Any]:
    return {"run_id": m.run_id, "kind": m.kind, "status": m.status, "started": m.started,
            "finished": m.finished, "of_run": m.of_run, "files": [f.path for f in m.files],
            "runtime": [r.setting for r in m.runtime], "handlers": [h.name for h in m.handlers],
            "notes": list(m.notes)}
