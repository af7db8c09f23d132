"""The debug log of each host's steps (``--debug``, ``--log FILE``): connect, each remote
command's name, exit status, duration and reply size. Never a command's text or output: they
can hold secrets (the CLI's log handlers mask URL passwords and vault values on top)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

log = logging.getLogger("remediate.steps")


def command_name(argv: Sequence[str]) -> str:
    """``remediate-gather`` for ``sh -c SCRIPT remediate-gather ...`` (the script's $0), else
    the program's base name."""
    if len(argv) >= 4 and argv[1] == "-c":
        return argv[3]
    return os.path.basename(argv[0]) if argv else "?"


def ran(host: str, argv: Sequence[str], started: float, exited: int, out: int, err: int) -> None:
    log.debug(
        "%s: ran %s: exit %d in %.3f s (%d bytes out, %d bytes err)",
        host,
        command_name(argv),
        exited,
        time.monotonic() - started,
        out,
        err,
    )


def failed(host: str, argv: Sequence[str], started: float, reason: str) -> None:
    log.debug(
        "%s: ran %s: %s after %.3f s", host, command_name(argv), reason, time.monotonic() - started
    )
