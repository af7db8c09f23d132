"""``remediate inventory``: show the inventory as Ansible would."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from remediate.cli import options as o
from remediate.errors import HostPatternError, UsageError


def inventory(
    inventory: list[Path] = typer.Option(  # noqa: B008
        [Path("inventory")],
        "-i",
        "--inventory",
        help="Inventory file, directory or script (repeatable).",
    ),
    list_: bool = typer.Option(
        False, "--list", help="All groups and hosts as ansible-inventory --list JSON."
    ),
    graph: bool = typer.Option(False, "--graph", help="The group tree."),
    host: str | None = typer.Option(None, "--host", help="One host's variables as JSON."),
    limit: str | None = typer.Option(
        None, "-l", "--limit", help="Host pattern (with --list/--graph)."
    ),
    vault_id: o.VaultId = None,
    vault_password_file: o.VaultPasswordFile = None,
    ask_vault_pass: o.AskVaultPass = False,
) -> None:
    """Show the inventory (Ansible-compatible) as JSON or a group tree. Secrets are masked."""
    from remediate.model.secrets import mask_vars

    if sum([list_, graph, host is not None]) != 1:
        raise UsageError("give exactly one of --list, --graph or --host NAME")
    vault = o.vault_options(vault_id, vault_password_file, ask_vault_pass)
    inv = o.load_inventory_with_vault(inventory, vault)
    if limit:
        selected = inv.select(limit)
        if not selected:  # as every command: an empty list would look like a clean fleet
            raise HostPatternError(f"--limit {limit!r} matches no host in the inventory")
        inv = inv.restrict(selected)
    if host is not None:
        try:
            variables = inv.host_vars(host)  # also the implicit localhost, as Ansible
        except KeyError:
            raise UsageError(f"no host {host!r} in the inventory") from None
        typer.echo(json.dumps(mask_vars(variables), indent=4, sort_keys=True))
    elif graph:
        typer.echo(inv.graph())
    else:
        data = inv.to_list_json()
        meta = data.get("_meta", {}).get("hostvars", {})
        for name, variables in meta.items():
            meta[name] = mask_vars(variables)
        typer.echo(json.dumps(data, indent=4, sort_keys=True))
