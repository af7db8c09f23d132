"""Options shared by the fleet commands (DESIGN.md's SELECT), declared once."""

from __future__ import annotations

import re
from dataclasses import dataclass
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

# Ansible's connection and privilege flags (ansible.cfg and inventory variables: see ConnectionFlags)
User = Annotated[
    str | None,
    typer.Option(
        "-u", "--user", help="Log in as this user where the inventory sets no ansible_user."
    ),
]
PrivateKey = Annotated[
    str | None,
    typer.Option(
        "--private-key", "--key-file", help="SSH key where the inventory sets no key file."
    ),
]
ExtraVars = Annotated[
    list[str] | None,
    typer.Option(
        "-e",
        "--extra-vars",
        help="Variables above everything else: KEY=VALUE, @file.yml or JSON (repeatable).",
    ),
]
Become = Annotated[
    bool, typer.Option("-b", "--become", help="Run remote commands with sudo (ansible_become).")
]
BecomeUser = Annotated[
    str | None, typer.Option("--become-user", help="Become this user (default root).")
]
AskBecomePass = Annotated[
    bool,
    typer.Option(
        "-K", "--ask-become-pass", help="Ask for the sudo password (sent to sudo on stdin only)."
    ),
]
ListHosts = Annotated[
    bool, typer.Option("--list-hosts", help="Print the hosts each play selects, and exit.")
]
Diff = Annotated[
    bool, typer.Option("-D", "--diff", help="Accepted for Ansible habits: diffs are always shown.")
]

DEFAULT_INVENTORY = [Path("inventory")]
DEFAULT_PLAYBOOK = Path("playbooks/site.yml")
DEFAULT_TEMPLATES = Path("templates")


@dataclass(frozen=True)
class ConnectionFlags:
    """-u, --private-key, -e, -b, --become-user, -K as typed on the command line."""

    user: str | None = None
    private_key: str | None = None
    extra_vars: tuple[str, ...] = ()
    become: bool = False
    become_user: str | None = None
    ask_become_pass: bool = False


def connection_flags(
    user: str | None = None,
    private_key: str | None = None,
    extra_vars: list[str] | None = None,
    become: bool = False,
    become_user: str | None = None,
    ask_become_pass: bool = False,
) -> ConnectionFlags:
    return ConnectionFlags(
        user, private_key, tuple(extra_vars or ()), become, become_user, ask_become_pass
    )


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
    ctx: typer.Context | None = None,
    flags: ConnectionFlags | None = None,
    note: bool = True,
) -> Select:
    """The SELECT options as the API's value (``--shard`` parsed).

    With ``ctx``, ansible.cfg (and ANSIBLE_* variables) fill the options not given on the
    command line: see remediate.cli.settings. Then, without ``-p``/``--templates`` and without
    ``./playbooks/site.yml``/``./templates``, the shipped ones (said on stderr unless ``note`` is
    false: audit stays silent for cron)."""
    from dataclasses import replace

    from remediate.api import Select
    from remediate.cli.settings import apply_ansible_config

    selected = Select(
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
    selected = apply_ansible_config(selected, ctx, flags or ConnectionFlags())
    playbook, templates = shipped_defaults(selected.playbook, selected.templates, note)
    return replace(selected, playbook=playbook, templates=templates)


def shipped_defaults(playbook: Path, templates: Path, note: bool) -> tuple[Path, Path]:
    """``playbook`` and ``templates``, each replaced by the shipped one when it is the default
    path and does not exist here."""
    import sys

    from remediate.playbook.shipped import shipped_playbook, shipped_templates

    used = []
    if playbook == DEFAULT_PLAYBOOK and not playbook.exists():
        playbook = shipped_playbook()
        used.append(f"playbook {playbook}")
    if templates == DEFAULT_TEMPLATES and not templates.exists():
        templates = shipped_templates()
        used.append(f"templates {templates}")
    if used and note:
        sys.stderr.write(
            f"remediate: using the shipped {' and '.join(used)} "
            "(`remediate init` writes an editable copy)\n"
        )
    return playbook, templates


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
