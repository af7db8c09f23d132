"""Counted nouns for people: ``1 host``, ``2 hosts``, ``0 files`` (one wording everywhere)."""

from __future__ import annotations

#: Irregular plurals of the nouns reports count.
_PLURALS = {"change": "changes", "restart": "restarts", "entry": "entries", "info": "info"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is exactly 1."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {many or _PLURALS.get(noun) or noun + 's'}"
