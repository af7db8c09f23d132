"""Options shared by the fleet commands (DESIGN.md's SELECT), declared once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from remediate.errors import UsageError

if TYPE_CHECKING:
    from remediate.api import Select
    from remediate.inventory.vault_passwords import VaultOptions

Inventory = Annotated[
    list[Path],
    typer.Option("-i", "--inventory", help="Inventory file, directory or script (repeatable)."),
]
Playbook = Annotated[
    Path, typer.Option("-p", "--playbook", help="Playbook of plays, files and handlers.")
]
Limit = Annotated[
    str | None,
    typer.Option("-l", "--limit", help="Ansible host pattern: web*, redis:&prod, all:!host3."),
]
Forks = Annotated[
    int, typer.Option("-f", "--forks", min=1, max=1000, help="Hosts worked on in parallel.")
]
Timeout = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Connect and command timeout, seconds.")
]
Templates = Annotated[Path, typer.Option("--templates", help="Directory of Jinja templates.")]
Shard = Annotated[
    str | None, typer.Option("--shard", help="K/N: take a stable N-th of the selected hosts.")
]
AcceptNew = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-keys",
        help="Accept and record keys of hosts not in known_hosts (a changed key is always refused).",
    ),
]
Format = Annotated[str, typer.Option("--format", help="text or json.")]
# Ansible Vault passwords (as ansible-core; also ANSIBLE_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_IDENTITY_LIST)
VaultId = Annotated[
    list[str] | None,
    typer.Option(
        "--vault-id",
        help="Vault password as LABEL@SOURCE or SOURCE: a file, an executable, or 'prompt' (repeatable).",
    ),
]
VaultPasswordFile = Annotated[
    list[str] | None,
    typer.Option(
        "--vault-password-file",
        "--vault-pass-file",
        help="File holding the vault password, or an executable printing it (repeatable).",
    ),
]
AskVaultPass = Annotated[
    bool,
    typer.Option(
        "-J",
        "--ask-vault-pass",
        "--ask-vault-password",
        help="Ask for the vault password on the terminal.",
    ),
]

DEFAULT_INVENTORY = [Path("inventory")]
DEFAULT_PLAYBOOK = Path("playbooks/site.yml")
DEFAULT_TEMPLATES = Path("templates")


def select(
    *,
    inventory: list[Path],
    playbook: Path = DEFAULT_PLAYBOOK,
    limit: str | None,
    forks: int,
    timeout: float,
    templates: Path = DEFAULT_TEMPLATES,
    shard: str | None,
    accept_new_host_keys: bool,
    vault_id: list[str] | None = None,
    vault_password_file: list[str] | None = None,
    ask_vault_pass: bool = False,
) -> Select:
    """The SELECT options as the API's value (``--shard`` parsed)."""
    from remediate.api import Select

    return Select(
        tuple(inventory),
        playbook,
        limit,
        forks,
        timeout,
        templates,
        parse_shard(shard) if shard else None,
        accept_new_host_keys,
        vault_options(vault_id, vault_password_file, ask_vault_pass),
    )


def vault_options(
    vault_id: list[str] | None, vault_password_file: list[str] | None, ask_vault_pass: bool
) -> VaultOptions:
    """The vault options of a command as one VaultOptions."""
    from remediate.inventory.vault_passwords import VaultOptions

    return VaultOptions(tuple(vault_id or ()), tuple(vault_password_file or ()), ask_vault_pass)


def load_inventory_with_vault(sources: list[Path], vault: VaultOptions | None = None) -> Any:
    """load_inventory with the vault passwords of ``vault`` (and of ANSIBLE_VAULT_* variables)."""
    from remediate.inventory.loader import load_inventory
    from remediate.inventory.vault_passwords import VaultOptions, load_vault_secrets

    return load_inventory(sources, vault=load_vault_secrets(vault or VaultOptions()))


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(match.group(1)), int(match.group(2))


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"--format {value!r}: expected one of {', '.join(allowed)}")
    return value
