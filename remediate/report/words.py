"""Counted nouns in English: ``1 host``, ``2 hosts``, ``1 finding``, ``0 runs``."""

from __future__ import annotations

IRREGULAR = {"info": "info"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is 1."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or IRREGULAR.get(noun) or noun + 's'}"
