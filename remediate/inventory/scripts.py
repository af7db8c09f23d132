"""Dynamic inventories: executable inventory scripts and ``ansible-inventory --list`` JSON.

A script is run with ``--list`` (and, when its answer has no ``_meta.hostvars``,
with ``--host NAME`` for each host), as ansible-core's script plugin does, within
a timeout; a failure shows the script's stderr.  The same reader takes a JSON
file exported with ``ansible-inventory -i SOURCE --list --output fleet.json``,
which is how any inventory plugin's hosts (aws_ec2, ...) reach remediate.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from remediate.errors import InventoryError
from remediate.inventory.builder import InventoryBuilder, located
from remediate.inventory.variables import decode_json, mark_unsafe, reveal_vault_values
from remediate.inventory.vault import VaultSecrets


def read_script(
    builder: InventoryBuilder, path: Path, *, timeout: float, vault: VaultSecrets | None = None
) -> None:
    vault = vault or VaultSecrets()
    output = _run_script(path, ["--list"], timeout)
    try:
        data = reveal_vault_values(decode_json(output), vault, path)
    except ValueError as error:
        raise InventoryError(
            f"Inventory script output is not valid JSON: {error}.", path=str(path)
        ) from None

    def host_vars(host: str) -> Any:
        reply = _run_script(path, ["--host", host], timeout)
        if not reply.strip():
            return {}
        try:
            return reveal_vault_values(decode_json(reply), vault, path)
        except ValueError as error:
            raise InventoryError(
                f"Inventory script output for --host {host} is not valid JSON: {error}.",
                path=str(path),
            ) from None

    with located(path):
        read_list_output(builder, data, host_vars)


def _run_script(path: Path, arguments: list[str], timeout: float) -> str:
    command = [str(path.resolve()), *arguments]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InventoryError(
            f"Inventory script did not finish '{' '.join(arguments)}' within {timeout:g} s.",
            path=str(path),
        ) from None
    except OSError as error:
        raise InventoryError(
            f"Cannot run inventory script: {error.strerror}.", path=str(path)
        ) from None
    stderr = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0:
        detail = f"; its stderr: {stderr}" if stderr else ""
        raise InventoryError(
            f"Inventory script '{' '.join(arguments)}' exited with {done.returncode}{detail}",
            path=str(path),
        )
    try:
        return done.stdout.decode()
    except UnicodeDecodeError:
        raise InventoryError("Inventory script output is not UTF-8.", path=str(path)) from None


def looks_like_list_output(data: Any) -> bool:
    """JSON shaped like 'ansible-inventory --list' output rather than a YAML-style inventory."""
    if not isinstance(data, Mapping):
        return False
    if "_meta" in data:
        return True
    return any(
        isinstance(value, list)
        or (
            isinstance(value, Mapping)
            and any(isinstance(value.get(key), list) for key in ("hosts", "children"))
        )
        for value in data.values()
    )


def read_list_output(
    builder: InventoryBuilder, data: Any, host_vars: Callable[[str], Any] | None = None
) -> None:
    """Groups, hosts and variables of --list JSON, by the rules of Ansible's script plugin.

    Without ``_meta.hostvars`` a host's variables come from ``host_vars(name)``
    (a script's ``--host``), else none.  Errors carry no path: the caller adds it.
    """
    if not isinstance(data, Mapping):
        raise InventoryError("Inventory JSON must be an object of groups.")
    meta_hostvars: Mapping[str, Any] | None = None
    hosts: dict[str, None] = {}
    for name, group_data in data.items():
        if name == "_meta":
            found = group_data.get("hostvars") if isinstance(group_data, Mapping) else None
            if not isinstance(found, Mapping):
                raise InventoryError("'_meta' must hold a 'hostvars' object.")
            meta_hostvars = found
        else:
            _read_list_group(builder, name, group_data, hosts)
    for host in hosts:
        if meta_hostvars is not None:
            variables = meta_hostvars.get(host, {})
        else:
            variables = host_vars(host) if host_vars else {}
        if not isinstance(variables, Mapping):
            raise InventoryError(f"Variables of host {host!r} must be an object.")
        for key, value in variables.items():
            builder.set_variable(host, key, value)


def _read_list_group(
    builder: InventoryBuilder, name: str, data: Any, hosts: dict[str, None]
) -> None:
    group = builder.add_group(name)
    if not isinstance(data, Mapping):
        data = {"hosts": data}
    elif not any(key in data for key in ("hosts", "vars", "children")):
        # Ansible's legacy reading: the group is its own sole host, and these
        # variables are never templated.
        data = {"hosts": [group], "vars": mark_unsafe(data)}
    if "hosts" in data:
        if not isinstance(data["hosts"], list):
            raise InventoryError(f"'{group}.hosts' must be a list.")
        for host in data["hosts"]:
            hosts[builder.add_host(host, group)] = None
    if "vars" in data:
        if not isinstance(data["vars"], Mapping):
            raise InventoryError(f"'{group}.vars' must be an object.")
        for key, value in data["vars"].items():
            builder.set_variable(group, key, value)
    if "children" in data:
        if not isinstance(data["children"], (list, Mapping)):
            raise InventoryError(f"'{group}.children' must be a list.")
        for child in data["children"]:
            builder.add_child(group, builder.add_group(child))
