"""systemd unit files and drop-ins, kept byte for byte.

Read the way systemd's config parser reads them (checked against systemd 252):
``[Section]`` headers, ``Key=Value`` with blanks allowed around ``=``, comment
lines starting with ``#`` or ``;``, a trailing unescaped backslash joining the
next line (comment lines inside such a continuation are skipped, a blank line
ends it), a lone CR ending a line like LF does, a UTF-8 BOM skipped.  Repeated keys are kept in order; for list settings an empty
assignment (``ExecStartPre=``) resets the list.  A malformed section header
makes systemd refuse the whole unit: ParseError.  Lines systemd ignores with a
warning (no ``=``, no key, an assignment before any section, a key that cannot
be a systemd key) are reported in ``problems``.

    doc = parse(b"", "limits.conf")
    doc.set("Service.LimitNOFILE", "65536")
    doc.dump() == b"[Service]\\nLimitNOFILE=65536\\n"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import Document, Edit, Problem
from remediate.formats.lines import (
    ANY_LINE_ENDS,
    LineBuffer,
    decode_text,
    duplicate_note,
    removed_note,
)

_WHITESPACE = " \t\n\r"  # systemd's WHITESPACE
_COMMENTS = "#;"
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BOM = "\ufeff"


@dataclass(frozen=True)
class UnitSection:
    """One ``[Name]`` header and the lines up to the next header (``end`` exclusive)."""

    name: str
    header: int  # 0-based line index
    end: int
    last_content: int  # index of the section's last line that is not blank or a comment


@dataclass(frozen=True)
class Assignment:
    """One ``Key=Value``, possibly continued over several physical lines."""

    section: str
    key: str
    value: str  # continuations joined as systemd joins them, stripped
    first: int  # 0-based index of the line holding the key
    last: int  # 0-based index of the last physical line of the continuation
    value_start: int  # column where the value begins in the first line (-1: '=' not there)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def split_key(key: str) -> tuple[str, str]:
    """``"Service.LimitNOFILE"`` -> ``("Service", "LimitNOFILE")``."""
    section, dot, name = key.partition(".")
    if not dot or not section or not name:
        raise ValueError(f"a systemd key is 'Section.Key', not {key!r}")
    return section, name


def _continues(text: str) -> bool:
    """Whether ``text`` ends in a backslash that is not itself escaped."""
    run = len(text) - len(text.rstrip("\\"))
    return run % 2 == 1


def _is_comment(body: str) -> bool:
    stripped = body.lstrip(_WHITESPACE)
    return stripped[:1] != "" and stripped[0] in _COMMENTS


class UnitDocument(Document):
    kind = "systemd"

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._buffer = LineBuffer(text, ANY_LINE_ENDS)  # a lone CR ends a line too
        self._index()

    def _index(self) -> None:
        self.sections: list[UnitSection] = []
        self.assignments: list[Assignment] = []
        self.problems: list[Problem] = []
        lines = [line.body for line in self._buffer.lines]
        if lines and lines[0].startswith(_BOM):
            lines[0] = lines[0][len(_BOM) :]
        section: str | None = None
        header = last_content = -1
        self._dangling = False  # the file ends inside a backslash continuation
        i = 0
        while i < len(lines):
            if not lines[i].strip(_WHITESPACE) or _is_comment(lines[i]):
                i += 1
                continue
            first, logical = i, lines[i]
            while _continues(logical):
                logical = logical[:-1] + " "  # systemd turns the backslash into a blank
                if i + 1 == len(lines):
                    self._dangling = True
                    break
                i += 1
                while i + 1 < len(lines) and _is_comment(lines[i]):
                    i += 1
                if _is_comment(lines[i]):
                    self._dangling = True
                    break
                logical += lines[i]
            stripped = logical.strip(_WHITESPACE)
            number = first + 1
            if stripped.startswith("["):
                if not stripped.endswith("]"):
                    raise ParseError(
                        f"invalid section header {stripped!r}: systemd refuses to load the unit",
                        path=self.path,
                        line=number,
                    )
                if section is not None:
                    self.sections.append(UnitSection(section, header, first, last_content))
                section, header, last_content = stripped[1:-1], first, i
            else:
                self._assignment(section, logical, first, i)
                last_content = i
            i += 1
        if section is not None:
            self.sections.append(UnitSection(section, header, len(lines), last_content))

    def _assignment(self, section: str | None, logical: str, first: int, last: int) -> None:
        stripped = logical.strip(_WHITESPACE)
        number = first + 1
        column = len(logical) - len(logical.lstrip(_WHITESPACE)) + 1
        if section is None:
            self.problems.append(
                Problem(number, column, "assignment outside of any section; systemd ignores it")
            )
            return
        key, equals, value = stripped.partition("=")
        key = key.strip(_WHITESPACE)
        if not equals:
            self.problems.append(Problem(number, column, "missing '='; systemd ignores the line"))
            return
        if not key:
            self.problems.append(
                Problem(number, column, "missing key name before '='; systemd ignores the line")
            )
            return
        if not _KEY.fullmatch(key):
            self.problems.append(
                Problem(
                    number,
                    column,
                    f"'{key}' is not a systemd key in [{section}]; systemd ignores it",
                )
            )
            return
        body = self._buffer.lines[first].body
        eq = body.find("=")
        value_start = -1
        if eq >= 0:
            after = body[eq + 1 :]
            value_start = eq + 1 + len(after) - len(after.lstrip(_WHITESPACE))
        self.assignments.append(
            Assignment(section, key, value.strip(_WHITESPACE), first, last, value_start)
        )

    # -- reading -----------------------------------------------------------------

    def dump(self) -> bytes:
        return self._buffer.encode()

    def settings(self) -> dict[str, Any]:
        """``"Section.Key"`` -> the last value assigned (``""`` for a reset)."""
        return {a.name: a.value for a in self.assignments}

    def values(self, section: str, key: str) -> list[str]:
        """Every value of a list setting in order, an empty assignment clearing the list."""
        found: list[str] = []
        for a in self.assignments:
            if a.section == section and a.key == key:
                found = [] if a.value == "" else [*found, a.value]
        return found

    def line_of(self, key: str) -> int | None:
        section, name = split_key(key)
        found = [a for a in self.assignments if a.section == section and a.key == name]
        return found[-1].first + 1 if found else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        """``LimitX=N`` means ``N:N``; ``infinity`` in any case."""
        if split_key(key)[1].startswith("Limit"):
            return _limit_pair(str(a)) == _limit_pair(str(b))
        return str(a) == str(b)

    # -- editing -----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        """Edit the last assignment of ``key`` in place, or add it at the end of the
        last section of that name (in its managed block), or add the section."""
        section, name = split_key(key)
        text = str(value).strip(_WHITESPACE)
        if "\n" in text or "\r" in text or _continues(text):
            raise ValueError(f"not a one-line systemd value: {value!r}")
        found = [a for a in self.assignments if a.section == section and a.key == name]
        if found:
            target = found[-1]
            note = duplicate_note([a.first + 1 for a in found], target.first + 1)
            self._rewrite(target, name, text)
            self._index()
            return Edit((target.first + 1, target.first + 1), note)
        if self._dangling:  # a blank line ends the continuation before it swallows ours
            self._buffer.insert(len(self._buffer.lines), [""])
            self._index()
        sections = [s for s in self.sections if s.name == section]
        if sections:
            where = sections[-1]
            lo = where.header  # a block we opened before the header belongs to the section
            for begin, end in self._buffer.managed_blocks():
                if begin < where.header < end < where.end:
                    lo = begin
            _, last = self._buffer.add_managed(
                [f"{name}={text}"], lo=lo, hi=where.end, at=self._tail(where)
            )
        else:
            at = len(self._buffer.lines)
            _, last = self._buffer.add_managed([f"[{section}]", f"{name}={text}"], lo=at, hi=at)
        self._index()
        return Edit((last, last), "" if sections else f"added section [{section}]")

    def _tail(self, section: UnitSection) -> int:
        """Where new lines go in ``section``: after its last non-blank line, but before
        the blank lines that end it and any comment lines glued to the next header."""
        lines = self._buffer.lines
        at = section.end
        if at < len(lines):
            while at - 1 > section.last_content and _is_comment(lines[at - 1].body):
                at -= 1
        while at - 1 > section.last_content and not lines[at - 1].body.strip(_WHITESPACE):
            at -= 1
        return at

    def _rewrite(self, target: Assignment, name: str, text: str) -> None:
        """Replace a value: only its bytes on a one-line assignment; a continued one
        becomes one line (its continuation lines go)."""
        body = self._buffer.lines[target.first].body
        if target.value_start < 0:
            indent = body[: len(body) - len(body.lstrip(_WHITESPACE))]
            self._buffer.replace(target.first, 0, len(body), f"{indent}{name}={text}")
        else:
            end = len(body.rstrip(_WHITESPACE))
            if target.last > target.first:
                end = len(body)
            self._buffer.replace(
                target.first, target.value_start, max(end, target.value_start), text
            )
        self._buffer.delete(range(target.first + 1, target.last + 1))

    def remove(self, key: str) -> Edit | None:
        section, name = split_key(key)
        found = [a for a in self.assignments if a.section == section and a.key == name]
        if not found:
            return None
        doomed = [i for a in found for i in range(a.first, a.last + 1)]
        self._buffer.delete(doomed)
        self._index()
        return Edit(None, removed_note([a.first + 1 for a in found]))


def _limit_pair(value: str) -> str:
    value = value.strip().lower()
    if value == "":
        return value
    soft, colon, hard = value.partition(":")
    return f"{soft}:{hard if colon else soft}"


def parse(data: bytes, path: str) -> UnitDocument:
    """Parse a unit file or drop-in; ParseError (path, line) for what systemd refuses."""
    return UnitDocument(decode_text(data, path), path)
