"""``--list-hosts``: the hosts each play selects, as ``ansible-playbook --list-hosts`` shows them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def list_hosts_lines(
    playbook: str, per_play: Sequence[tuple[Any, Sequence[Any]]], selected: Iterable[str]
) -> list[str]:
    """``per_play``: (play, its hosts) in playbook order; ``selected``: names kept (--shard)."""
    kept = set(selected)
    lines = [f"playbook: {playbook}", ""]
    for number, (play, hosts) in enumerate(per_play, 1):
        names = [h.name for h in hosts if h.name in kept]
        serial = f"  serial: {', '.join(play.serial)}" if getattr(play, "serial", None) else ""
        lines.append(f"  play #{number} ({play.hosts}): {play.name}{serial}")
        lines.append(f"    pattern: {play.hosts}")
        lines.append(f"    hosts ({len(names)}):")
        lines += [f"      {name}" for name in names]
        lines.append("")
    return lines
