"""Helpers shared by the format tests: fixture listing and GNU-diff-like unified diffs."""

from __future__ import annotations

import difflib
from pathlib import Path


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def unified(name: str, before: bytes, after: bytes) -> str:
    """A unified diff like GNU diff's, "\\ No newline at end of file" included."""

    def lines(data: bytes) -> list[str]:
        text = data.decode("utf-8", "surrogateescape")
        tail = [text.rsplit("\n", 1)[-1]] if text and not text.endswith("\n") else []
        return [part + "\n" for part in text.split("\n")[:-1]] + tail

    out = []
    for line in difflib.unified_diff(lines(before), lines(after), f"a/{name}", f"b/{name}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
