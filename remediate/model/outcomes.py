"""What happened on each host: a value or why there is none, and the per-host results of
apply and rollback. Partial failure is data, never an exception that stops the fleet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from remediate.model.plans import HostPlan
from remediate.model.runs import HandlerResult

T = TypeVar("T")


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    """What happened on one host: a value, or why there is none."""

    host: str
    value: T | None = None
    unreachable: str = ""  # could not connect / authenticate / timed out
    failed: str = ""  # connected, but the work failed
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unreachable and not self.failed


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    failures: int


@dataclass(frozen=True)
class HostApplyResult:
    """One host's apply. ``plan.findings`` are what is still wrong afterwards: on the files as
    written for a host that changed (``findings_of`` says which files they judge)."""

    host: str
    address: str
    status: str  # ok | changed | failed | rolled back | unreachable | skipped
    plan: HostPlan | None = None
    run_id: str = ""
    messages: tuple[str, ...] = ()
    error: str = ""
    handlers: tuple[HandlerResult, ...] = ()  # the handlers that ran, with their checks
    findings_of: str = ""  # "files as written" | "files as found" | why they are older


@dataclass(frozen=True)
class RollbackResult:
    host: str
    status: str  # changed | ok | partial | failed | rolled back | unreachable
    of_run: str = ""
    run_id: str = ""
    restored: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # "path: why"
    runtime: tuple[str, ...] = ()
    error: str = ""
    removed: tuple[str, ...] = ()  # files the run created, removed again
    note: str = ""  # why nothing was done (run not on this host, already undone by RUN)
