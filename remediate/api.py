"""The typed Python API that the CLI wraps: select hosts, then plan, apply, roll back, list
runs, gather facts or audit. Every function returns values (plans, outcomes, documents);
nothing here prints or exits.

    from remediate import api
    fleet = api.select(api.Select(inventory=(Path("inventory"),), limit="redis"))
    plans = api.plan(fleet)

The engine (and paramiko) is imported by the functions that contact hosts, not by this
module, so commands that only read local files start fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediate.errors import UsageError

if TYPE_CHECKING:
    from remediate.inventory.loader import Inventory
    from remediate.inventory.vault_passwords import VaultOptions
    from remediate.model.outcomes import (
        HostApplyResult,
        HostOutcome,
        Progress,
        RollbackResult,
    )
    from remediate.model.plans import HostPlan
    from remediate.model.runs import Manifest
    from remediate.playbook.render import Renderer
    from remediate.playbook.targets import HostTarget, PlaySelection
    from remediate.remote.connection import ConnectOptions


@dataclass(frozen=True)
class Select:
    """DESIGN.md's SELECT options, as values."""

    inventory: tuple[Path, ...] = (Path("inventory"),)
    playbook: Path = Path("playbooks/site.yml")
    limit: str | None = None
    forks: int = 50
    timeout: float = 10.0
    templates: Path = Path("templates")
    shard: tuple[int, int] | None = None
    accept_new_host_keys: bool = False
    vault: VaultOptions | None = None  # vault passwords; ANSIBLE_VAULT_* variables are read too
    #: connection variables under each host's own (-u, --private-key, -b, -K, ansible.cfg)
    host_defaults: Mapping[str, Any] = field(default_factory=dict)
    extra_vars: tuple[str, ...] = ()  # -e arguments, above everything (inventory and play vars)

    def load_inventory(self) -> Inventory:
        """The inventory, vault-encrypted values decrypted with the vault passwords given."""
        return self.load()[0]

    def load(self) -> tuple[Inventory, dict[str, Any]]:
        """The inventory with host defaults and extra vars applied, and the extra vars."""
        from remediate.inventory.loader import load_inventory
        from remediate.inventory.overrides import parse_extra_vars, with_host_vars
        from remediate.inventory.vault_passwords import VaultOptions, load_vault_secrets

        secrets = load_vault_secrets(self.vault or VaultOptions())
        inventory = load_inventory(list(self.inventory), vault=secrets)
        extra = parse_extra_vars(self.extra_vars, secrets)
        return with_host_vars(inventory, self.host_defaults, extra), extra

    def connect_options(self) -> ConnectOptions:
        from remediate.remote.connection import ConnectOptions

        return ConnectOptions(timeout=self.timeout, accept_new_host_keys=self.accept_new_host_keys)

    def inputs(self) -> dict[str, object]:
        """What a saved plan was made from, so `apply --plan` can re-derive the same files."""
        return {
            "inventory": [str(p) for p in self.inventory],
            "playbook": str(self.playbook),
            "templates": str(self.templates),
            "limit": self.limit,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
        }


@dataclass(frozen=True)
class Fleet:
    """The hosts a selection reaches, what each manages, and the templates' renderer."""

    select: Select
    targets: list[HostTarget]
    renderer: Renderer
    warnings: tuple[str, ...] = ()  # e.g. a play whose hosts: matched nothing (others did)
    plays: PlaySelection | None = None  # each play's hosts (--list-hosts, per-play serial:)


def select(sel: Select) -> Fleet:
    """Load inventory, playbook and templates and resolve the targets: no host is contacted,
    and every input error (inventory, playbook, template, a pattern that selects no host)
    surfaces here."""
    from remediate.playbook.render import Renderer
    from remediate.playbook.schema import load_playbook
    from remediate.playbook.targets import prepare, select_plays

    inventory, extra = sel.load()
    playbook = load_playbook(sel.playbook)
    if not sel.templates.is_dir():
        raise UsageError(f"no templates directory {sel.templates} (use --templates DIR)")
    renderer = Renderer(sel.templates)
    plays = select_plays(inventory, playbook, sel.limit)  # no host to target: HostPatternError
    targets = prepare(inventory, playbook, renderer, sel.limit, sel.shard, plays, extra)
    return Fleet(sel, targets, renderer, tuple(plays.unmatched), plays)


def select_hosts(sel: Select) -> list[HostTarget]:
    """The inventory's hosts only (rollback and runs need no playbook)."""
    from remediate.playbook.targets import inventory_targets

    return inventory_targets(sel.load_inventory(), sel.limit, sel.shard)


def plan(fleet: Fleet, progress: Callable[[Progress], None] | None = None) -> list[HostPlan]:
    """Gather every host and plan its changes (nothing is written)."""
    from remediate.engine.survey import plan_fleet

    return plan_fleet(
        fleet.targets, fleet.renderer, fleet.select.connect_options(), fleet.select.forks, progress
    )


def apply(
    fleet: Fleet,
    *,
    serial: str | None = None,
    max_fail_percent: float | None = None,
    expected: dict[str, HostPlan] | None = None,
    progress: Callable[[Progress], None] | None = None,
    allow_pending_live: bool = False,
) -> list[HostApplyResult]:
    """Apply on every host (batches of ``serial``); ``expected``: saved plans hosts must match.

    ``allow_pending_live``: write files whose running instance's live state is unknown (the
    host is ``pending restart``) instead of failing that host before any write."""
    from remediate.engine.batches import apply_fleet

    targets = (
        fleet.targets if expected is None else [t for t in fleet.targets if t.host.name in expected]
    )
    return apply_fleet(
        targets,
        fleet.renderer,
        fleet.select.connect_options(),
        fleet.select.forks,
        serial,
        max_fail_percent,
        expected,
        progress,
        allow_pending_live,
        fleet.plays.per_play if fleet.plays is not None else None,
    )


def stale_plans(
    fleet: Fleet,
    expected: dict[str, HostPlan],
    progress: Callable[[Progress], None] | None = None,
) -> dict[str, str]:
    """Per host of a saved plan that ``apply --plan`` would refuse: why (the host changed
    since, its inputs now render differently, or it cannot be reached or planned)."""
    from remediate.engine.apply import stale_reason

    targets = [t for t in fleet.targets if t.host.name in expected]
    now = {p.host: p for p in plan(Fleet(fleet.select, targets, fleet.renderer), progress)}
    out = {}
    for host, saved in expected.items():
        current = now.get(host)
        if current is None:
            out[host] = "not selected by the saved plan's inventory and playbook any more"
        elif current.unreachable or current.failed:
            out[host] = current.unreachable or current.failed
        elif reason := stale_reason(saved, current):
            out[host] = f"stale plan: {reason}"
    return out


def check_serial(fleet: Fleet, serial: str | None) -> None:
    """A bad ``--serial`` is a usage error before any host is contacted."""
    from remediate.engine.batches import serial_batches

    serial_batches(fleet.targets, serial)


def rollback(
    sel: Select,
    run_id: str | None,
    *,
    force: bool = False,
    dry_run: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> list[RollbackResult]:
    """Undo ``run_id`` (or each host's last run) on the selected hosts."""
    from remediate.engine.batches import rollback_fleet

    return rollback_fleet(
        select_hosts(sel), run_id, force, dry_run, sel.connect_options(), sel.forks, progress
    )


def runs(sel: Select) -> list[HostOutcome[list[Manifest]]]:
    """Every run each selected host keeps, oldest first."""
    from remediate.engine.batches import runs_fleet

    return runs_fleet(select_hosts(sel), sel.connect_options(), sel.forks)


def facts(
    fleet: Fleet, progress: Callable[[Progress], None] | None = None
) -> list[HostOutcome[dict[str, Any]]]:
    """What each host runs with: managed settings, live values, limits and broker health."""
    from remediate.engine.fanout import fan_out
    from remediate.engine.survey import survey_facts, survey_target

    timeouts = fleet.select.connect_options().timeouts
    return fan_out(
        fleet.targets,
        lambda conn, target: survey_facts(survey_target(conn, target, fleet.renderer, timeouts)),
        fleet.select.connect_options(),
        fleet.select.forks,
        progress,
    )


def audit(fleet: Fleet) -> dict[str, Any]:
    """Plan, and the audit report: JSON-ready, with its exit code and timestamp."""
    from remediate.report.plans import audit_exit_code, plan_json

    started, begun = time.time(), time.monotonic()
    plans = plan(fleet)
    return plan_json(
        plans,
        kind="audit",
        exit_code=audit_exit_code(plans),
        extra={"inputs": fleet.select.inputs(), **run_times(started, begun)},
        shard=fleet.select.shard,
    )


def verify(
    fleet: Fleet,
    *,
    idle: float | None = None,
    budget: float | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """A canary worker per Celery host idles over the real path, then must consume one task:
    the ``kind: verify`` report, JSON-ready, with its exit code. A host that manages no Celery
    file verifies its running worker's own configuration; one that runs none either is listed
    as skipped; a selection of only such hosts is a usage error."""
    from remediate.engine.verify import NO_APP, VerifyOptions, new_run_id, verify_fleet
    from remediate.report.verify import verify_json

    targets = list(fleet.targets)  # a host without a managed file: its running worker's config
    if not targets:
        raise UsageError("no selected host manages a Celery file: nothing to verify")
    if idle is not None and idle < 0 or budget is not None and budget <= 0:
        raise UsageError("--idle must be >= 0 and --budget > 0 (seconds)")
    run = new_run_id()
    outcomes = verify_fleet(
        targets,
        VerifyOptions(idle, budget, run),
        fleet.select.connect_options(),
        fleet.select.forks,
        progress,
    )
    skipped = [o.host for o in outcomes if o.failed == NO_APP]
    outcomes = [o for o in outcomes if o.failed != NO_APP]
    if not outcomes:
        raise UsageError(
            "no selected host manages a Celery file or runs a celery worker: nothing to verify"
        )
    return verify_json(outcomes, run=run, timestamp=int(time.time()), skipped=skipped)


def run_times(started: float, begun: float) -> dict[str, float]:
    """A report's ``timestamp`` (when it started, Unix seconds) and ``duration_seconds``
    (``begun``: the monotonic clock then)."""
    return {"timestamp": int(started), "duration_seconds": round(time.monotonic() - begun, 3)}
