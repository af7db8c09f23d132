"""The interface every lossless config format implements, and the generic merge.

A format module parses bytes into a Document that keeps every byte of the input
(comments, blank lines, spacing, line endings) so that ``dump()`` returns exactly
the input until something is edited.  Edits touch only the lines they must.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

MANAGED_BEGIN = "BEGIN remediate managed settings"
MANAGED_END = "END remediate managed settings"


class _Absent:
    """The value of a setting that is not in the file (distinct from a literal None)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:  # noqa: PYI034  (a singleton: always the one instance)
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(unset)"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Problem:
    """A line the consuming program would refuse, though we can keep its bytes."""

    line: int
    column: int
    reason: str


@dataclass(frozen=True)
class Edit:
    """Where an edit landed in the new document: 1-based inclusive line range."""

    lines: tuple[int, int] | None
    note: str = ""


@dataclass(frozen=True)
class Change:
    """One semantic change a merge made (or would make)."""

    kind: str
    setting: str
    old: Any  # ABSENT when the setting was absent
    new: Any  # ABSENT when the setting is removed
    lines: tuple[int, int] | None  # line range in the new document
    note: str = ""  # e.g. "defined twice (lines 10 and 40): edited the effective one, line 40"


class Document(ABC):
    """A parsed config file. Subclasses are pure: no I/O."""

    kind: ClassVar[str]
    path: str
    #: lines the consuming program would refuse (kept byte for byte, reported, never edited)
    problems: list[Problem]

    @abstractmethod
    def dump(self) -> bytes:
        """The file's bytes; identical to the parsed input when nothing was edited."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The effective semantic view: setting name (as the format names it) -> value."""

    @abstractmethod
    def line_of(self, key: str) -> int | None:
        """1-based line of the effective definition of ``key``, or None if absent."""

    @abstractmethod
    def set(self, key: str, value: Any) -> Edit:
        """Set ``key`` to ``value`` (a value as ``settings()`` of a document of this
        kind would give it). An existing effective definition is edited in place,
        keeping its comment and position; a missing one is appended to the single
        managed block at the end of the file (created on first use, reused after; an
        empty file gets it without markers). See ``remediate.formats.lines``."""

    @abstractmethod
    def remove(self, key: str) -> Edit | None:
        """Remove every definition of ``key``; None when it was absent."""

    def managed_items(self) -> Iterable[tuple[str, Any]]:
        """The (key, value) pairs a template of this kind manages, for merge.
        Defaults to ``settings()``; formats with nested values may flatten them."""
        return self.settings().items()

    def current(self, key: str) -> Any:
        """The current value of a managed key (as ``managed_items`` names it), or ABSENT."""
        return dict(self.managed_items()).get(key, ABSENT)

    def same(self, key: str, a: Any, b: Any) -> bool:
        """Whether two values of ``key`` mean the same (units, literal forms...)."""
        return bool(a == b)

    def copy(self) -> Document:
        from remediate.formats import parse

        return parse(self.kind, self.dump(), self.path)


def merge(
    live: Document, desired: Document, strategy: str = "merge"
) -> tuple[Document, list[Change]]:
    """Merge the settings of ``desired`` into a copy of ``live``.

    ``merge``: only settings named in ``desired`` are touched; existing ones are
    edited in place, missing ones appended in one marked block.
    ``replace``: ``desired`` is the whole file.
    """
    if live.kind != desired.kind:
        raise ValueError(f"cannot merge a {desired.kind} document into a {live.kind} one")
    if strategy == "replace":
        new = desired.copy()
        new.path = live.path
        return new, _diff_settings(live, new)
    if strategy != "merge":
        raise ValueError(f"unknown strategy {strategy!r} (merge or replace)")
    new = live.copy()
    changes: list[Change] = []
    for key, value in desired.managed_items():
        old = new.current(key)
        if old is not ABSENT and new.same(key, old, value):
            continue
        before = new.dump()
        edit = new.set(key, value)
        changes = _moved(changes, before, new.dump())  # lines added above earlier changes
        changes.append(Change(live.kind, key, old, value, edit.lines, edit.note))
    return new, changes


def _moved(changes: list[Change], before: bytes, after: bytes) -> list[Change]:
    """``changes`` with their line ranges in ``before`` moved to where they are in ``after``.

    One edit happened between the two, so the files share a prefix and a suffix of lines;
    lines after the edited region shift by the difference in length (linear, no diff).
    """
    old, new = before.split(b"\n"), after.split(b"\n")
    delta = len(new) - len(old)
    if not delta or not changes:
        return changes
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    old_end, new_end = len(old) - suffix, len(new) - suffix  # edited region: [prefix, *_end)

    region: list[tuple[str, int, int, int, int]] = []

    def line_after(line: int) -> int:
        index = line - 1
        if index < prefix:
            return line
        if index >= old_end:
            return index + delta + 1
        # inside the edited region, which may hold two edits (a celery value and the import
        # it needs): match its lines, a few at most, so unchanged ones there move too
        if not region:
            region.extend(
                difflib.SequenceMatcher(
                    None, old[prefix:old_end], new[prefix:new_end], autojunk=False
                ).get_opcodes()
            )
        for tag, i1, i2, j1, j2 in region:
            if i1 <= index - prefix < i2:
                offset = index - prefix - i1
                if tag != "equal":
                    offset = min(offset, max(j2 - j1 - 1, 0))
                return prefix + j1 + offset + 1
        return prefix + min(index - prefix, max(new_end - prefix - 1, 0)) + 1

    return [
        replace(c, lines=(line_after(c.lines[0]), line_after(c.lines[1]))) if c.lines else c
        for c in changes
    ]


def _diff_settings(old: Document, new: Document) -> list[Change]:
    before, after = dict(old.managed_items()), dict(new.managed_items())
    changes = []
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key, ABSENT), after.get(key, ABSENT)
        if a is not ABSENT and b is not ABSENT and new.same(key, a, b):
            continue
        line = new.line_of(key)
        changes.append(Change(new.kind, key, a, b, (line, line) if line else None))
    return changes
