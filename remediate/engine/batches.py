"""Apply, rollback and runs across a fleet: batches, failure thresholds, per-host outcomes."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from remediate.engine.apply import HostApplyResult, apply_target
from remediate.engine.fanout import HostOutcome, Progress, run_on_hosts
from remediate.engine.rollback import RollbackResult, read_manifests, rollback_target
from remediate.engine.survey import HostTarget, modules_for
from remediate.errors import UsageError
from remediate.model.plans import HostPlan
from remediate.model.runs import Manifest
from remediate.model.secrets import Masker
from remediate.plan.planner import MergeCache
from remediate.playbook.render import Renderer
from remediate.remote.connection import Connection, ConnectOptions


def serial_batches(targets: Sequence[HostTarget], serial: str | None) -> list[list[HostTarget]]:
    """``--serial N`` or ``N%``: consecutive batches, as Ansible's ``serial``."""
    if not serial:
        return [list(targets)] if targets else []
    match = re.fullmatch(r"(\d+)(%?)", serial.strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--serial {serial!r}: expected a positive N or N%")
    size = int(match.group(1))
    if match.group(2):
        size = max(1, math.ceil(len(targets) * min(size, 100) / 100))
    return [list(targets[i:i + size]) for i in range(0, len(targets), size)]


def apply_fleet(targets: Sequence[HostTarget], renderer: Renderer, options: ConnectOptions, forks: int,
                serial: str | None = None, max_fail_percent: float | None = None,
                expected: dict[str, HostPlan] | None = None,
                progress: Callable[[Progress], None] | None = None) -> list[HostApplyResult]:
    """Apply batch after batch; stop the batches that follow one that failed too much."""
    by_name = {t.host.name: t for t in targets}
    results: list[HostApplyResult] = []
    stopped = False
    cache = MergeCache()
    for batch in serial_batches(targets, serial):
        if stopped:
            results += [HostApplyResult(t.host.name, t.host.address, "skipped",
                                        error="not attempted: an earlier batch failed past --max-fail-percent")
                        for t in batch]
            continue

        def work(conn: Connection) -> HostApplyResult:
            plan = (expected or {}).get(conn.host.name)
            return apply_target(conn, by_name[conn.host.name], renderer, options.timeout, plan, cache)

        outcomes = run_on_hosts([t.host for t in batch], work, options, forks, progress,
                                warm=modules_for(batch))
        batch_results = [_apply_result(o, t) for o, t in zip(outcomes, batch)]
        results += batch_results
        failed = sum(r.status in ("failed", "rolled back", "unreachable") for r in batch_results)
        if max_fail_percent is not None and batch and failed * 100 / len(batch) > max_fail_percent:
            stopped = True
    return results


def _apply_result(outcome: HostOutcome[HostApplyResult], target: HostTarget) -> HostApplyResult:
    if outcome.value is not None:
        return outcome.value
    masker = Masker(str(v) for k, v in target.host.vars.items() if "pass" in k.lower() and isinstance(v, str))
    if outcome.unreachable:
        return HostApplyResult(outcome.host, target.host.address, "unreachable", error=masker(outcome.unreachable))
    return HostApplyResult(outcome.host, target.host.address, "failed", error=masker(outcome.failed))


def rollback_fleet(targets: Sequence[HostTarget], run_id: str | None, force: bool, dry_run: bool,
                   options: ConnectOptions, forks: int,
                   progress: Callable[[Progress], None] | None = None) -> list[RollbackResult]:
    by_name = {t.host.name: t for t in targets}

    def work(conn: Connection) -> RollbackResult:
        return rollback_target(conn, by_name[conn.host.name], run_id, force, dry_run, options.timeout)

    outcomes = run_on_hosts([t.host for t in targets], work, options, forks, progress)
    return [o.value if o.value is not None else
            RollbackResult(o.host, "unreachable" if o.unreachable else "failed", error=o.unreachable or o.failed)
            for o in outcomes]


def runs_fleet(targets: Sequence[HostTarget], options: ConnectOptions,
               forks: int) -> list[HostOutcome[list[Manifest]]]:
    by_name = {t.host.name: t for t in targets}
    return run_on_hosts([t.host for t in targets], lambda conn: read_manifests(conn, by_name[conn.host.name]),
                        options, forks)


def inventory_targets(inventory: Any, limit: str | None,
                      shard: tuple[int, int] | None = None) -> list[HostTarget]:
    """Hosts of the inventory (for rollback and runs: no playbook needed)."""
    from remediate.engine.survey import shard_of

    hosts = inventory.select(limit) if limit else list(inventory.hosts.values())
    if shard:
        hosts = [h for h in hosts if shard_of(h.name, shard[1]) == shard[0] - 1]
    return [HostTarget(h, ()) for h in hosts]
