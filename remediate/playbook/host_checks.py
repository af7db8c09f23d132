"""Host variables the tool itself reads, checked for type before any host is contacted
(issue 20 item 13): a bad value is one clear error naming the variable and the host, never
an internal error after files were written."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from remediate.errors import InventoryError


def check_host(host: Any) -> None:
    """Every connection and run variable of ``host`` (an inventory ``Host``), or raise.

    ``ansible_connection`` is not checked here: an unsupported type fails that host alone when
    it is contacted, and the rest of the fleet proceeds (as Ansible does)."""
    _ = host.port, host.become, host.user, host.become_user, host.root
    values = host.vars
    if values.get("remediate_keep_runs") is not None:
        whole_number(host.name, "remediate_keep_runs", values["remediate_keep_runs"], 1, 10_000)
    backup = values.get("remediate_backup_dir")
    if backup is not None and (not isinstance(backup, str) or not posixpath.isabs(backup)):
        raise InventoryError(
            f"remediate_backup_dir {backup!r} is not an absolute path.", host=host.name
        )
    check_file_vars(host.name, values)  # rollback reaches Redis with the host's own


def check_file_vars(host: str, variables: Mapping[str, Any]) -> None:
    """The variables a managed file is rendered and reached with (play defaults, host, play)."""
    if variables.get("redis_port") is not None:
        whole_number(host, "redis_port", variables["redis_port"], 1, 65_535)
    address = variables.get("redis_host")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise InventoryError(f"redis_host {address!r} is not a host name or address.", host=host)


def whole_number(host: str, name: str, value: Any, low: int, high: int) -> int:
    """``value`` as Ansible would read an integer variable, within [low, high], or raise."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise InventoryError(
            f"{name} {str(value)!r} is not a whole number from {low} to {high}.", host=host
        )
    return int(text)
