"""ansible.cfg and Ansible's connection flags applied to a Select (command-line flags win).

An option given on the command line keeps its value; one left at its default takes
ansible.cfg's (or its ANSIBLE_* variable's): ``inventory``, ``forks``, ``timeout``, and
``[remediate] playbook / templates``. Connection settings become per-host variable defaults
(under the inventory's own): ``-u`` over ``remote_user``, ``--private-key`` over
``private_key_file``, ``-b`` / ``--become-user`` over ``[privilege_escalation]``, plus
``ssh_args`` and ``host_key_checking``; ``-K`` (or ``become_ask_pass``) asks for the sudo
password once. ``-e`` is kept as given and applied above everything when loading.
"""

from __future__ import annotations

import getpass
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediate.inventory.ansible_cfg import AnsibleConfig, load_ansible_config

if TYPE_CHECKING:
    import typer

    from remediate.api import Select
    from remediate.cli.options import ConnectionFlags


def apply_ansible_config(sel: Select, ctx: typer.Context | None, flags: ConnectionFlags) -> Select:
    """``sel`` with ansible.cfg filling what the command line left at its default."""
    from remediate.api import Select
    from remediate.model.secrets import secret_text

    cfg = load_ansible_config()
    base = Select()

    def unset(param: str, value: Any, default: Any) -> bool:
        if value != default:
            return False
        if ctx is None:
            return True
        source = ctx.get_parameter_source(param)
        return source is None or source.name in ("DEFAULT", "DEFAULT_MAP")

    changes: dict[str, Any] = {}
    if cfg.inventory and unset("inventory", sel.inventory, base.inventory):
        changes["inventory"] = cfg.inventory
    if cfg.forks and unset("forks", sel.forks, base.forks):
        changes["forks"] = cfg.forks
    if cfg.timeout and unset("timeout", sel.timeout, base.timeout):
        changes["timeout"] = cfg.timeout
    for key in ("playbook", "templates"):
        if key in cfg.remediate and unset(key, getattr(sel, key), getattr(base, key)):
            changes[key] = Path(cfg.remediate[key])
    if cfg.vault_password_file:
        changes["vault"] = _with_vault_file(sel, cfg)
    defaults = host_defaults(cfg, flags)
    if flags.ask_become_pass or (cfg.become_ask_pass and "ansible_become_password" not in defaults):
        defaults["ansible_become_password"] = secret_text(_ask_become_password())
    return replace(sel, **changes, host_defaults=defaults, extra_vars=flags.extra_vars)


def _ask_become_password() -> str:
    """The become password, typed once on the terminal (as ansible's -K); refused without one:
    getpass would otherwise read it from piped stdin, or hang."""
    import sys

    from remediate.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(
            "-K/--ask-become-pass needs a terminal to ask for the become password on, and "
            "there is none; set ansible_become_password (in a vaulted file) instead."
        )
    try:
        return getpass.getpass("BECOME password: ")
    except EOFError:
        raise UsageError("-K/--ask-become-pass: no password typed") from None


def host_defaults(cfg: AnsibleConfig, flags: ConnectionFlags) -> dict[str, Any]:
    """Connection variables every host gets unless its inventory sets them."""
    values: dict[str, Any] = {
        "ansible_user": flags.user or cfg.remote_user,
        "ansible_private_key_file": flags.private_key or cfg.private_key_file,
        "ansible_ssh_args": cfg.ssh_args,
        "ansible_host_key_checking": (
            None if cfg.host_key_checking is None else str(cfg.host_key_checking)
        ),
        "ansible_become": True if flags.become else cfg.become,
        "ansible_become_user": flags.become_user or cfg.become_user,
        "ansible_become_method": cfg.become_method,
    }
    return {key: value for key, value in values.items() if value is not None}


def _with_vault_file(sel: Select, cfg: AnsibleConfig) -> Any:
    """The vault options with ansible.cfg's vault_password_file appended, as Ansible adds it
    (ANSIBLE_VAULT_PASSWORD_FILE itself is read by the vault loader)."""
    import os

    from remediate.inventory.vault_passwords import VaultOptions

    vault = sel.vault or VaultOptions()
    if os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE", "").strip():
        return vault
    assert cfg.vault_password_file is not None
    return replace(vault, password_files=(*vault.password_files, cfg.vault_password_file))
