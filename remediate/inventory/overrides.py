"""What the command line and ansible.cfg add to every host's variables, as Ansible ranks them.

- *Connection defaults* (``-u``, ``--private-key``, ``-b``, ``--become-user``, ``-K``, and below
  them ansible.cfg's remote_user, private_key_file, ssh_args, host_key_checking, become*) are
  the lowest: a host's own ``ansible_user`` and friends in the inventory win over them, as
  Ansible's command-line options lose to inventory connection variables.
- *Extra vars* (``-e``) are the highest: they win over the inventory and over a play's
  ``vars:`` (``prepare`` applies them last).

``-e`` takes ``KEY=VALUE ...`` (values are strings), ``@file.yml`` (YAML or JSON, vault
encryption allowed) or a JSON / YAML mapping ``{"k": 1}``, as ``ansible-playbook -e`` does;
several ``-e`` merge left to right.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from remediate.errors import UsageError
from remediate.inventory.variables import load_vars_file, load_yaml, plain
from remediate.inventory.vault import VaultSecrets

#: other names of a connection variable: a host setting any of them keeps its own value
ALIASES = {
    "ansible_user": ("ansible_ssh_user",),
    "ansible_private_key_file": ("ansible_ssh_private_key_file",),
    "ansible_become_password": ("ansible_become_pass", "ansible_sudo_pass"),
    "ansible_host_key_checking": ("ansible_ssh_host_key_checking",),
}


def parse_extra_vars(values: Sequence[str], vault: VaultSecrets | None = None) -> dict[str, Any]:
    """Every ``-e`` argument merged, later ones winning."""
    merged: dict[str, Any] = {}
    for text in values:
        merged.update(_one_extra_vars(text, vault))
    return merged


def _one_extra_vars(text: str, vault: VaultSecrets | None) -> dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith("@"):
        path = Path(stripped[1:])
        if not path.is_file():
            raise UsageError(f"-e {text}: no such file {path}")
        return load_vars_file(path, vault)
    if stripped.startswith(("{", "[")):
        data = plain(load_yaml(stripped, "-e"))
        if not isinstance(data, Mapping):
            raise UsageError(f"-e {text!r}: extra vars must be a mapping, not a list")
        return dict(data)
    try:
        words = shlex.split(stripped)
    except ValueError as exc:
        raise UsageError(f"-e {text!r}: {exc}") from None
    result: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"-e {text!r}: expected KEY=VALUE, @FILE or a JSON/YAML mapping, got {word!r}"
            )
        result[key.strip()] = value
    return result


def with_host_vars(inventory: Any, defaults: Mapping[str, Any], extra: Mapping[str, Any]) -> Any:
    """``inventory`` with ``defaults`` under and ``extra`` over every host's variables."""
    if not defaults and not extra:
        return inventory

    def host(each: Any) -> Any:
        under = {
            key: value
            for key, value in defaults.items()
            if not any(name in each.vars for name in (key, *ALIASES.get(key, ())))
        }
        return replace(each, vars={**under, **each.vars, **extra})

    return replace(
        inventory,
        hosts={name: host(h) for name, h in inventory.hosts.items()},
        implicit_hosts={name: host(h) for name, h in inventory.implicit_hosts.items()},
    )
