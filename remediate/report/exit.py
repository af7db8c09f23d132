"""The one exit-code policy every command uses (DESIGN.md's table), converted once at the edge."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success; no drift (or drift, when plan is not asked for a detailed code)
    ERROR = (
        1  # bad input, a host failed, a live state unknown, no host selected, a partial rollback
    )
    DRIFT = 2  # drift or findings (plan --detailed-exitcode, audit, lint at or above --fail-on)
    UNREACHABLE = 4  # some hosts unreachable; the others were still processed
    USAGE = 64  # a bad flag must never look like drift
    INTERRUPTED = 130  # Ctrl-C


def exit_code(*, failed: int = 0, unreachable: int = 0, drift: bool = False) -> ExitCode:
    """Failed (or unknown) beats unreachable, which beats drift, which beats success."""
    if failed:
        return ExitCode.ERROR
    if unreachable:
        return ExitCode.UNREACHABLE
    if drift:
        return ExitCode.DRIFT
    return ExitCode.OK


def combined(codes: Iterable[int]) -> ExitCode:
    """The code of one run made of parts (shards), by the same precedence."""
    found = set(codes)
    return exit_code(
        failed=ExitCode.ERROR in found,
        unreachable=ExitCode.UNREACHABLE in found,
        drift=ExitCode.DRIFT in found,
    )
