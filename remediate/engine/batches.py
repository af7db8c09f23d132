"""Apply, rollback and runs across a fleet: batches, failure thresholds, per-host outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from remediate.engine.apply import apply_target
from remediate.engine.fanout import fan_out
from remediate.engine.rollback import read_manifests, rollback_target
from remediate.engine.survey import modules_for
from remediate.model.fleet_runs import last_apply_run
from remediate.model.outcomes import HostApplyResult, HostOutcome, Progress, RollbackResult
from remediate.model.plans import HostPlan
from remediate.model.runs import Manifest, new_run_id
from remediate.model.secrets import Masker, secret_vars
from remediate.plan.planner import MergeCache
from remediate.playbook.render import Renderer
from remediate.playbook.serial import cli_batches, play_batches
from remediate.playbook.targets import HostTarget
from remediate.remote.connection import Connection, ConnectOptions


def serial_batches(targets: Sequence[HostTarget], serial: str | None) -> list[list[HostTarget]]:
    """``--serial N`` or ``N%``: consecutive batches, as Ansible's ``serial``."""
    return cli_batches(targets, serial)


def apply_fleet(
    targets: Sequence[HostTarget],
    renderer: Renderer,
    options: ConnectOptions,
    forks: int,
    serial: str | None = None,
    max_fail_percent: float | None = None,
    expected: dict[str, HostPlan] | None = None,
    progress: Callable[[Progress], None] | None = None,
    allow_pending_live: bool = False,
    per_play: Sequence[tuple[Any, Sequence[Any]]] | None = None,
) -> list[HostApplyResult]:
    """Apply batch after batch (plays' ``serial:``, else ``--serial``); stop the batches that
    follow one that failed too much (see playbook.serial)."""
    results: list[HostApplyResult] = []
    stopped = ""
    cache = MergeCache()
    run_id = new_run_id()  # one id for the whole invocation, on every host it touches
    for each in play_batches(targets, per_play, serial, max_fail_percent):
        batch = list(each.targets)
        if stopped:
            results += [
                HostApplyResult(t.host.name, t.host.address, "skipped", error=stopped)
                for t in batch
            ]
            continue

        def work(conn: Connection, target: HostTarget) -> HostApplyResult:
            plan = (expected or {}).get(target.host.name)
            return apply_target(
                conn, target, renderer, options.timeouts, plan, cache, allow_pending_live, run_id
            )

        outcomes = fan_out(batch, work, options, forks, progress, warm=modules_for(batch))
        batch_results = [_apply_result(o, t) for o, t in zip(outcomes, batch)]
        results += batch_results
        failed = sum(r.status in ("failed", "rolled back", "unreachable") for r in batch_results)
        if each.stops_run(failed):
            stopped = (
                f"not attempted: a batch of play {each.play!r} failed ({failed} of {len(batch)})"
                if each.stop_when_all_fail or each.play
                else "not attempted: an earlier batch failed past --max-fail-percent"
            )
    return results


def _apply_result(outcome: HostOutcome[HostApplyResult], target: HostTarget) -> HostApplyResult:
    if outcome.value is not None:
        return outcome.value
    masker = Masker(secret_vars(target.host.vars))
    if outcome.unreachable:
        return HostApplyResult(
            outcome.host, target.host.address, "unreachable", error=masker(outcome.unreachable)
        )
    return HostApplyResult(
        outcome.host, target.host.address, "failed", error=masker(outcome.failed)
    )


def rollback_fleet(
    targets: Sequence[HostTarget],
    run_id: str | None,
    force: bool,
    dry_run: bool,
    options: ConnectOptions,
    forks: int,
    progress: Callable[[Progress], None] | None = None,
) -> list[RollbackResult]:
    """Undo ``run_id`` on every host it touched; ``None``: the fleet's last *apply* run.

    The rollback is one run too, with one id on every host."""
    if run_id is None:
        listed = runs_fleet(targets, options, forks)
        run_id = last_apply_run({o.host: o.value for o in listed if o.value is not None})
        if not run_id:
            return [
                _rollback_result(o)
                if o.value is None
                else RollbackResult(o.host, "ok", note="no apply run to roll back on this host")
                for o in listed
            ]
    new_run = new_run_id()

    def work(conn: Connection, target: HostTarget) -> RollbackResult:
        return rollback_target(conn, target, run_id, force, dry_run, options.timeouts, new_run)

    return [_rollback_result(o) for o in fan_out(targets, work, options, forks, progress)]


def _rollback_result(
    outcome: HostOutcome[RollbackResult] | HostOutcome[list[Manifest]],
) -> RollbackResult:
    if isinstance(outcome.value, RollbackResult):
        return outcome.value
    return RollbackResult(
        outcome.host,
        "unreachable" if outcome.unreachable else "failed",
        error=outcome.unreachable or outcome.failed,
    )


def runs_fleet(
    targets: Sequence[HostTarget], options: ConnectOptions, forks: int
) -> list[HostOutcome[list[Manifest]]]:
    return fan_out(targets, read_manifests, options, forks)
