"""Rolling batches: each play's ``serial:`` and ``max_fail_percentage``, as Ansible runs them.

Plays run in playbook order; a play's hosts are cut into batches of its ``serial:`` sizes
(``N``, ``"N%"`` of the play's hosts rounded down but at least 1, or a list whose last size
repeats), and a batch starts only after the one before it finished, its handlers' health
checks included. Each host is applied once, whole (every file of every play it is in), in the
first play with ``serial:`` that selects it (else the first play that selects it): a RabbitMQ
node that also runs Redis still restarts one at a time. The run stops when a batch fails past the play's
``max_fail_percentage`` (more than, as Ansible), or when every host of a ``serial:`` batch
failed (Ansible's default without max_fail_percentage). Plays without ``serial:`` use
``--serial`` / ``--max-fail-percent`` from the command line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remediate.errors import UsageError


@dataclass(frozen=True)
class Batch:
    """Hosts applied together; what failure of them stops the run."""

    targets: tuple[Any, ...]  # HostTarget
    max_fail_percentage: float | None = None
    stop_when_all_fail: bool = False
    play: str | None = None

    def stops_run(self, failed: int) -> bool:
        if not self.targets:
            return False
        if self.stop_when_all_fail and failed == len(self.targets):
            return True
        share = failed * 100 / len(self.targets)
        return self.max_fail_percentage is not None and share > self.max_fail_percentage


def cli_batches(targets: Sequence[Any], serial: str | None) -> list[list[Any]]:
    """``--serial N`` or ``N%``: consecutive batches (N% rounded up)."""
    if not serial:
        return [list(targets)] if targets else []
    match = re.fullmatch(r"(\d+)(%?)", serial.strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--serial {serial!r}: expected a positive N or N%")
    size = int(match.group(1))
    if match.group(2):
        size = max(1, math.ceil(len(targets) * min(size, 100) / 100))
    return [list(targets[i : i + size]) for i in range(0, len(targets), size)]


def serial_sizes(serial: Sequence[str], total: int) -> list[int]:
    """Ansible's batch sizes for ``total`` hosts: a percentage of ``total`` rounded down, at
    least 1; the list's last size repeats until every host has a batch."""
    sizes: list[int] = []
    left, index = total, 0
    while left > 0:
        text = serial[min(index, len(serial) - 1)]
        size = int(text[:-1]) * total // 100 if text.endswith("%") else int(text)
        size = min(max(size, 1), left)
        sizes.append(size)
        left -= size
        index += 1
    return sizes


def play_batches(
    targets: Sequence[Any],
    per_play: Sequence[tuple[Any, Sequence[Any]]] | None,
    serial: str | None = None,
    max_fail_percent: float | None = None,
) -> list[Batch]:
    """The batches to apply, in order (see the module's text)."""
    rolling = per_play is not None and any(
        getattr(play, "serial", ()) or getattr(play, "max_fail_percentage", None) is not None
        for play, _ in per_play
    )
    if not rolling or per_play is None:
        return [Batch(tuple(b), max_fail_percent) for b in cli_batches(targets, serial)]
    by_name = {t.host.name: t for t in targets}
    governing: dict[str, int] = {}  # host -> its first play with serial:, else its first play
    for index, (play, hosts) in enumerate(per_play):
        for host in hosts:
            first = governing.get(host.name)
            if first is None or (play.serial and not per_play[first][0].serial):
                governing[host.name] = index
    done: set[str] = set()
    batches: list[Batch] = []
    for index, (play, hosts) in enumerate(per_play):
        mine = [
            by_name[h.name]
            for h in hosts
            if h.name in by_name and h.name not in done and governing[h.name] == index
        ]
        done.update(t.host.name for t in mine)
        if not mine:
            continue
        limit = (
            play.max_fail_percentage if play.max_fail_percentage is not None else max_fail_percent
        )
        if play.serial:
            start = 0
            for size in serial_sizes(play.serial, len(mine)):
                batches.append(Batch(tuple(mine[start : start + size]), limit, True, play.name))
                start += size
        else:
            batches += [Batch(tuple(b), limit, False, play.name) for b in cli_batches(mine, serial)]
    rest = [t for t in targets if t.host.name not in done]
    batches += [Batch(tuple(b), max_fail_percent) for b in cli_batches(rest, serial)]
    return batches
