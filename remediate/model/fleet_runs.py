"""Runs across a fleet: one run id per invocation, each host keeping its own manifest under it.

Pure: built from every host's manifests (``host -> [Manifest]``). A run's fleet view says when
it started, what it was (``apply`` or ``rollback of RUN``) and how it went on each host; the
"last apply" that ``rollback --last`` undoes is found here, so a rollback is never itself
picked by ``--last`` (rolling a rollback back needs its own id: no flip-flop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from remediate.model.runs import Manifest

UNDOABLE = ("applied", "started")  # "started": an interrupted run can be undone too


@dataclass(frozen=True)
class FleetRun:
    """One invocation of ``apply`` or ``rollback`` over the hosts it touched."""

    run_id: str
    started: str  # the earliest start over its hosts
    kind: str  # "apply" | "rollback"
    of_run: str  # the run a rollback undid
    hosts: tuple[tuple[str, str], ...]  # (host, status), by host name

    @property
    def command(self) -> str:
        return f"rollback of {self.of_run}" if self.of_run else self.kind

    @property
    def changed(self) -> int:
        return sum(status == "applied" for _, status in self.hosts)

    @property
    def failed(self) -> int:
        """Hosts where the run failed, was rolled back, or was interrupted (``started``)."""
        return sum(status != "applied" for _, status in self.hosts)


def fleet_runs(per_host: Mapping[str, Sequence[Manifest]]) -> list[FleetRun]:
    """Every run the hosts keep, newest first."""
    by_id: dict[str, list[tuple[str, Manifest]]] = {}
    for host, manifests in per_host.items():
        for m in manifests:
            by_id.setdefault(m.run_id, []).append((host, m))
    out = []
    for run_id, entries in by_id.items():
        first = entries[0][1]
        out.append(
            FleetRun(
                run_id,
                min(m.started for _, m in entries),
                first.kind,
                first.of_run,
                tuple(sorted((host, m.status) for host, m in entries)),
            )
        )
    return sorted(out, key=lambda r: r.run_id, reverse=True)


def undone_by(manifests: Sequence[Manifest], run_id: str) -> str:
    """The id of the rollback that undid ``run_id`` on this host and still stands ("" if none).

    A rollback stands unless a later rollback of that rollback undid it in turn. An
    interrupted rollback (``started``) does not count: the run can still be undone, which
    finishes what it began.
    """
    for m in reversed(manifests):
        standing = m.kind == "rollback" and m.of_run == run_id and m.status == "applied"
        if standing and not undone_by(manifests, m.run_id):
            return m.run_id
    return ""


def last_apply_run(per_host: Mapping[str, Sequence[Manifest]]) -> str:
    """The newest apply run that changed at least one of these hosts ("" if none).

    Rollbacks are never picked: ``rollback --last`` twice undoes the same apply twice (the
    second time finds nothing left to undo), it does not re-apply it.
    """
    candidates = [
        m.run_id
        for manifests in per_host.values()
        for m in manifests
        if m.kind == "apply" and m.status in UNDOABLE
    ]
    return max(candidates, default="")
