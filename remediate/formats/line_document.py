"""The line layer shared by line-oriented config formats (redis.conf, rabbitmq.conf).

A document keeps ``raw``: every line as it is in the file, line ending included
(``"\\n"``, ``"\\r\\n"``, or none for a last line without one), so ``dump()`` is a
join.  Only lines that may say something (not blank, not a comment) are analysed,
into ``info``: 0-based line index -> the format's own record.  Bytes are decoded as
UTF-8 with ``surrogateescape``, so undecodable bytes survive the round trip.

Lines split on ``"\\n"`` only (a lone ``"\\r"`` stays inside a line), as both Redis
and cuttlefish do.  Settings that are missing are appended to one marked block at
the end of the file (``MANAGED_BEGIN`` / ``MANAGED_END`` comment lines), which
later edits reuse.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Generic, Self, TypeVar

from remediate.formats.base import MANAGED_BEGIN, MANAGED_END, Document

InfoT = TypeVar("InfoT")
_NOT_BLANK_OR_COMMENT = re.compile(r"\n[ \t\r]*[^ \t\r\n#]")


def decode(data: bytes) -> str:
    """Bytes to text, losslessly (``encode(decode(b)) == b`` for every ``b``)."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def split_raw(text: str) -> list[str]:
    """The lines of ``text`` with their endings; ``"".join`` gives ``text`` back."""
    pieces = text.split("\n")
    last = pieces.pop()
    raw = [piece + "\n" for piece in pieces]
    if last:
        raw.append(last)
    return raw


def line_text(raw_line: str) -> str:
    """A raw line without its ending (``\\r\\n`` or ``\\n``)."""
    if raw_line.endswith("\n"):
        return raw_line[:-2] if raw_line.endswith("\r\n") else raw_line[:-1]
    return raw_line


def line_ending(raw_line: str) -> str:
    return raw_line[len(line_text(raw_line)):]


def describe_lines(numbers: Sequence[int]) -> str:
    """``[10]`` -> "line 10"; ``[10, 20, 40]`` -> "lines 10, 20 and 40"."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    head = ", ".join(str(n) for n in numbers[:-1])
    return f"lines {head} and {numbers[-1]}"


def candidate_indexes(text: str, pattern: re.Pattern[str]) -> Iterator[int]:
    """0-based indexes of the lines where ``pattern`` matches; the pattern starts with
    ``\\n`` and matches from the line break before a line (a literal first character
    keeps the scan fast), and the text is searched with a line break put in front."""
    padded = "\n" + text
    line = -1
    position = 0
    for match in pattern.finditer(padded):
        line += padded.count("\n", position, match.start() + 1)
        position = match.start() + 1
        yield line


class LineDocument(Document, Generic[InfoT]):
    """A Document of raw lines; subclasses say what a line means (``_analyse``)."""

    raw: list[str]
    info: dict[int, InfoT]

    #: False where the format has no comments (Redis ACL files): missing settings
    #: are then appended plainly at the end, without markers
    uses_managed_block: bool = True

    @abstractmethod
    def _analyse(self, text: str) -> InfoT | None:
        """What one line (without its ending) says; None for nothing (blank, comment)."""

    def _lines_changed(self) -> None:
        """Called after edits; subclasses refresh what they derive from ``info``."""

    def _candidate_line(self) -> re.Pattern[str]:
        """Matches (from the line break before it) every line ``_analyse`` might not ignore."""
        return _NOT_BLANK_OR_COMMENT

    def _load(self, text: str) -> None:
        self.raw = split_raw(text)
        self.info = {}
        for index in candidate_indexes(text, self._candidate_line()):
            found = self._analyse(line_text(self.raw[index]))
            if found is not None:
                self.info[index] = found

    def dump(self) -> bytes:
        return encode("".join(self.raw))

    def copy(self) -> Self:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.raw = list(self.raw)
        clone.info = dict(self.info)
        clone.problems = list(self.problems)
        return clone

    def text(self, index: int) -> str:
        return line_text(self.raw[index])

    def newline(self) -> str:
        """The file's line-ending style: CRLF when most of its lines end that way."""
        ended = sum(1 for line in self.raw if line.endswith("\n"))
        crlf = sum(1 for line in self.raw if line.endswith("\r\n"))
        return "\r\n" if crlf * 2 > ended else "\n"

    def managed_block(self) -> tuple[int, int] | None:
        """0-based indexes of the BEGIN and END marker lines, or None."""
        begin = None
        for index, line in enumerate(self.raw):
            if begin is None:
                if MANAGED_BEGIN in line and line.lstrip().startswith("#"):
                    begin = index
            elif MANAGED_END in line and line.lstrip().startswith("#"):
                return begin, index
        return None

    # --- edits (callers then call _lines_changed) ------------------------------

    def _replace_line(self, index: int, text: str) -> None:
        self.raw[index] = text + line_ending(self.raw[index])
        self._store(index, self._analyse(text))

    def _delete_lines(self, indexes: Sequence[int]) -> None:
        gone_set = set(indexes)
        gone = sorted(gone_set)
        for index in reversed(gone):
            del self.raw[index]
        self.info = {i - bisect_left(gone, i): found for i, found in self.info.items()
                     if i not in gone_set}

    def _insert_lines(self, at: int, texts: Sequence[str], newline: str) -> None:
        count = len(texts)
        self.raw[at:at] = [text + newline for text in texts]
        self.info = {(i + count if i >= at else i): found for i, found in self.info.items()}
        for offset, text in enumerate(texts):
            self._store(at + offset, self._analyse(text))

    def _append_lines(self, texts: Sequence[str]) -> tuple[int, int]:
        """Add ``texts`` to the managed block (created on first use); return the
        1-based line range they occupy."""
        newline = self.newline()
        block = self.managed_block() if self.uses_managed_block else None
        if block is not None:
            self._insert_lines(block[1], texts, newline)
            return block[1] + 1, block[1] + len(texts)
        if self.raw and not self.raw[-1].endswith("\n"):
            self.raw[-1] += newline
        if self.uses_managed_block:
            texts = [f"# {MANAGED_BEGIN}", *texts, f"# {MANAGED_END}"]
        start = len(self.raw)
        self._insert_lines(start, texts, newline)
        if self.uses_managed_block:
            return start + 2, start + len(texts) - 1
        return start + 1, start + len(texts)

    def _store(self, index: int, found: InfoT | None) -> None:
        if found is None:
            self.info.pop(index, None)
        else:
            self.info[index] = found
