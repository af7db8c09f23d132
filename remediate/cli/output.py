"""Printing: coloured with rich on a terminal, plain when piped or with --no-color/NO_COLOR."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self


def print_lines(lines: Iterable[tuple[str, str]], color: bool) -> None:
    """Coloured when ``color`` (the global options' verdict) and stdout is a terminal or
    FORCE_COLOR is set and not empty."""
    forced = bool(os.environ.get("FORCE_COLOR"))
    if color and (forced or sys.stdout.isatty()):
        from rich.console import Console
        from rich.text import Text

        # no_color=False: NO_COLOR was already judged (set *and* not empty) by the caller
        console = Console(
            highlight=False, soft_wrap=True, force_terminal=forced or None, no_color=False
        )
        for style, text in lines:
            console.print(Text(text, style=style or ""))
    else:
        sys.stdout.write("".join(text + "\n" for _, text in lines))
        sys.stdout.flush()


def warn(messages: Iterable[str]) -> None:
    """Warnings on stderr, one line each (Ansible's [WARNING]: the run goes on)."""
    for message in messages:
        sys.stderr.write(f"remediate: warning: {message}\n")
    sys.stderr.flush()


class ProgressLine:
    """A live ``hosts done/total`` line on stderr, only on a terminal."""

    def __init__(self, what: str, enabled: bool | None = None) -> None:
        self.what = what
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        failures = f", {progress.failures} failed" if progress.failures else ""
        sys.stderr.write(
            f"\r{self.what}: {progress.done}/{progress.total} host{'s' * (progress.total != 1)}"
            f"{failures}\033[K"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``path`` via a temp file in the same directory and a rename."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
