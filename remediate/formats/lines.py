"""The one line layer of the formats: physical lines kept byte for byte, one newline policy,
one managed block, one wording per note.

Every kind keeps its file (or, for celery, the lines around its managed block) in a
``LineBuffer``: a list of ``Line`` (body + its own line ending), so joining them gives back
the exact input.  Bytes are decoded as UTF-8 with ``surrogateescape``: any byte sequence,
valid UTF-8 or not, survives the round trip.

* Lines end at LF, a CR just before it belonging to the ending (CRLF files), as Redis,
  cuttlefish, pam_limits and the shell read them.  Where the consuming program also ends
  a line at a lone CR (systemd, Python) the buffer does too: ``ANY_LINE_ENDS``.
* Newline policy: a new line takes the file's dominant line ending (the most common of
  ``\\n``, ``\\r\\n`` and, where it ends lines, a lone ``\\r``; ``\\n`` on a tie and in an
  empty file).  A last line without an ending first gets that ending before anything is
  added after it.
* Managed block: a setting a merge adds goes to the one block between comment lines
  holding ``MANAGED_BEGIN`` / ``MANAGED_END`` (comment prefix per kind), created on first
  use (at the end of the file, or where the kind says: systemd puts it in the section) and
  reused after.  An empty file is entirely ours: it gets the lines without markers, and so
  does a kind without comments (Redis ACL files).
* Notes: ``duplicate_note``, ``removed_note``, ``override_note`` and ``kept_note`` are the
  one wording of each note every kind gives in ``Edit.note``.

    buffer = LineBuffer(decode_text(data, path))
    buffer.replace(3, 8, 12, "65536")              # line index 3, columns 8..12
    first, last = buffer.add_managed(["rabbitmq - nofile 65536"])
    buffer.encode() == new file bytes

``LineDocument`` is the Document base of the formats that read one line at a time
(redis.conf, rabbitmq.conf): it keeps what each line says next to the buffer.  Pure, no I/O.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Generic, NamedTuple, Self, TypeVar

from remediate.errors import ParseError
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END, Document

#: A line ends at LF; a CR just before it belongs to the ending (CRLF files).
LF_LINE_ENDS = re.compile(r"\r?\n")
#: A line also ends at a lone CR (systemd's reader, Python's tokenizer).
ANY_LINE_ENDS = re.compile(r"\r\n|\n|\r")


class Line(NamedTuple):
    """One physical line: its text without the ending, and the ending ("" for a last
    line without one)."""

    body: str
    ending: str

    @property
    def text(self) -> str:
        return self.body + self.ending


_new_line = partial(tuple.__new__, Line)  # Line(body, ending) for map(), without a Python call


def decode(data: bytes) -> str:
    """Bytes to text, losslessly (``encode(decode(b)) == b`` for every ``b``)."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def decode_text(data: bytes, path: str) -> str:
    """Decode file bytes losslessly; a NUL byte means it is not a text file (ParseError)."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ParseError("contains a NUL byte: not a text config file", path=path, line=line)
    return decode(data)


def split_lines(text: str, line_ends: re.Pattern[str] = LF_LINE_ENDS) -> list[Line]:
    """Split ``text`` into lines that keep their endings; ``""`` gives no lines."""
    if line_ends is LF_LINE_ENDS:  # the common case, several times faster than the regex
        pieces = text.split("\n")
        last = pieces.pop()
        if "\r" in text:
            lines = [
                Line(piece[:-1], "\r\n") if piece.endswith("\r") else Line(piece, "\n")
                for piece in pieces
            ]
        else:
            lines = list(map(_new_line, zip(pieces, repeat("\n"))))
        if last:
            lines.append(Line(last, ""))
        return lines
    lines = []
    start = 0
    for match in line_ends.finditer(text):
        lines.append(Line(text[start : match.start()], match.group()))
        start = match.end()
    if start < len(text):
        lines.append(Line(text[start:], ""))
    return lines


def is_marker(body: str, marker: str, comment: str = "#") -> bool:
    """Whether ``body`` is a comment line holding ``marker`` (MANAGED_BEGIN or MANAGED_END)."""
    stripped = body.lstrip(" \t")
    return stripped.startswith(comment) and marker in stripped


# --- the one wording of each note ---------------------------------------------------------


def describe_lines(numbers: Sequence[int]) -> str:
    """``[10]`` -> "line 10"; ``[10, 20, 40]`` -> "lines 10, 20 and 40"."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    head = ", ".join(str(n) for n in numbers[:-1])
    return f"lines {head} and {numbers[-1]}"


def duplicate_note(lines: Sequence[int], edited: int) -> str:
    """A setting defined more than once: which definition was edited ("" for one)."""
    if len(lines) < 2:
        return ""
    times = "twice" if len(lines) == 2 else f"{len(lines)} times"
    return f"defined {times} ({describe_lines(lines)}): edited the effective one, line {edited}"


def removed_note(lines: Sequence[int]) -> str:
    """Definitions removed from these (pre-edit) lines."""
    return f"removed {describe_lines(sorted(set(lines)))}"


def override_note(line: int, what: str) -> str:
    """A definition that cannot be edited in place (``what`` it is) was overridden by a
    new line in the managed block."""
    return f"line {line} {what}; appended a line after it that takes effect instead"


def kept_note(key: str, lines: Sequence[int]) -> str:
    """Lines of ``key`` that are in ``problems``, which edits never touch."""
    return f"{key} on {describe_lines(lines)} is left as it is (see problems)"


# --- the buffer ------------------------------------------------------------------------------


class LineBuffer:
    """The mutable list of lines behind a document. Indexes are 0-based; the
    ranges it returns for people are 1-based and inclusive."""

    def __init__(self, text: str, line_ends: re.Pattern[str] = LF_LINE_ENDS) -> None:
        self.line_ends = line_ends
        self.lines = split_lines(text, line_ends)

    def copy(self) -> LineBuffer:
        clone = LineBuffer("", self.line_ends)
        clone.lines = list(self.lines)
        return clone

    def text(self) -> str:
        return "".join(chain.from_iterable(self.lines))  # body, ending, body, ending...

    def encode(self) -> bytes:
        return encode(self.text())

    @property
    def newline(self) -> str:
        """The file's dominant line ending, for new lines ("\\n" on a tie or without one)."""
        counts = Counter(map(itemgetter(1), self.lines))
        return max(("\n", "\r\n", "\r"), key=counts.__getitem__)  # a tie keeps the first

    def offset(self, index: int, column: int = 0) -> int:
        """Character offset in ``text()`` of ``column`` in line ``index``."""
        return sum(len(line.text) for line in self.lines[:index]) + column

    def replace(self, index: int, start: int, end: int, new: str) -> None:
        """Replace columns ``start:end`` of one line's body (``new`` holds no line break)."""
        line = self.lines[index]
        self.lines[index] = Line(line.body[:start] + new + line.body[end:], line.ending)

    def splice(self, start: int, end: int, new: str) -> None:
        """Replace the text between two offsets of ``text()``; may span lines."""
        text = self.text()
        self.lines = split_lines(text[:start] + new + text[end:], self.line_ends)

    def delete(self, indexes: Sequence[int]) -> None:
        """Delete whole lines (with their endings)."""
        doomed = set(indexes)
        self.lines = [line for i, line in enumerate(self.lines) if i not in doomed]

    def insert(self, index: int, bodies: Sequence[str]) -> tuple[int, int]:
        """Insert new lines before line ``index`` with the file's line ending.
        Inserting after a last line that has no ending first gives it one.
        Returns the 1-based inclusive range of the new lines."""
        newline = self.newline
        if index == len(self.lines) and self.lines and self.lines[-1].ending == "":
            last = self.lines[-1].body
            if last.endswith("\r") and newline == "\n":  # reads back as one CRLF ending
                self.lines[-1] = Line(last[:-1], "\r\n")
            else:
                self.lines[-1] = Line(last, newline)
        new: list[Line] = []
        before = self.lines[index - 1].ending if index else ""
        for body in bodies:
            # an empty LF line right after a lone CR would read back as one CRLF ending
            ending = "\r" if before == "\r" and not body and newline == "\n" else newline
            new.append(Line(body, ending))
            before = ending
        self.lines[index:index] = new
        return index + 1, index + len(bodies)

    def managed_block(
        self, lo: int = 0, hi: int | None = None, comment: str = "#"
    ) -> tuple[int, int] | None:
        """Indexes of the first BEGIN marker in ``lo:hi`` and the END marker that closes
        it inside the same range, or None (a BEGIN without its END is not a block)."""
        hi = len(self.lines) if hi is None else hi
        begins = self._marked(MANAGED_BEGIN, comment, lo, hi)
        if not begins:
            return None
        ends = self._marked(MANAGED_END, comment, begins[0] + 1, hi)
        return (begins[0], ends[0]) if ends else None

    def _marked(self, marker: str, comment: str, lo: int, hi: int) -> list[int]:
        """Indexes in ``lo:hi`` of the comment lines holding ``marker``."""
        return [
            i
            for i, (body, _) in enumerate(self.lines[lo:hi], start=lo)
            if marker in body and is_marker(body, marker, comment)
        ]

    def managed_blocks(self, comment: str = "#") -> list[tuple[int, int]]:
        """Every (BEGIN, END) marker pair in the file, in order."""
        blocks: list[tuple[int, int]] = []
        lo = 0
        while (block := self.managed_block(lo, comment=comment)) is not None:
            blocks.append(block)
            lo = block[1] + 1
        return blocks

    def add_managed(
        self,
        bodies: Sequence[str],
        *,
        lo: int = 0,
        hi: int | None = None,
        at: int | None = None,
        comment: str | None = "#",
    ) -> tuple[int, int]:
        """Add lines to the managed block found in ``lo:hi`` (just before its END marker);
        without one, create a block at index ``at`` (default: end of file).  An empty
        file, or a kind without comments (``comment`` None), gets the lines without
        markers.  Returns the 1-based inclusive range of ``bodies`` in the new buffer."""
        block = None if comment is None else self.managed_block(lo, hi, comment)
        if block is not None:
            return self.insert(block[1], bodies)
        at = len(self.lines) if at is None else at
        if not self.lines or comment is None:
            return self.insert(at, bodies)
        first, last = self.insert(
            at, [f"{comment} {MANAGED_BEGIN}", *bodies, f"{comment} {MANAGED_END}"]
        )
        return first + 1, last - 1


# --- documents of analysed lines (redis.conf, rabbitmq.conf) --------------------------------

InfoT = TypeVar("InfoT")
_NOT_BLANK_OR_COMMENT = re.compile(r"\n[ \t\r]*[^ \t\r\n#]")


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
    """A Document whose lines are read one at a time: ``info`` maps a 0-based line index to
    what the format makes of that line (blank and comment lines have no entry); subclasses
    say what a line means (``_analyse``).  Lines end at LF only, as Redis and cuttlefish
    read them."""

    buffer: LineBuffer
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
        self.buffer = LineBuffer(text)
        self.info = {}
        for index in candidate_indexes(text, self._candidate_line()):
            found = self._analyse(self.text(index))
            if found is not None:
                self.info[index] = found

    def dump(self) -> bytes:
        return self.buffer.encode()

    def copy(self) -> Self:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.buffer = self.buffer.copy()
        clone.info = dict(self.info)
        clone.problems = list(self.problems)
        return clone

    def text(self, index: int) -> str:
        """Line ``index`` (0-based) without its ending."""
        return self.buffer.lines[index].body

    # --- edits (callers then call _lines_changed) ------------------------------

    def _replace_line(self, index: int, text: str) -> None:
        self.buffer.replace(index, 0, len(self.text(index)), text)
        self._store(index, self._analyse(text))

    def _delete_lines(self, indexes: Sequence[int]) -> None:
        gone_set = set(indexes)
        gone = sorted(gone_set)
        self.buffer.delete(gone)
        self.info = {
            i - bisect_left(gone, i): found for i, found in self.info.items() if i not in gone_set
        }

    def _append_lines(self, texts: Sequence[str]) -> tuple[int, int]:
        """Add ``texts`` to the managed block (see ``LineBuffer.add_managed``); return the
        1-based line range they occupy."""
        before = len(self.buffer.lines)
        first, last = self.buffer.add_managed(
            texts, comment="#" if self.uses_managed_block else None
        )
        added = len(self.buffer.lines) - before
        start = first - 1 - (added - len(texts)) // 2  # the BEGIN marker, when one was added
        self.info = {(i + added if i >= start else i): found for i, found in self.info.items()}
        if start == before and before:  # the old last line may have got its ending
            self._store(before - 1, self._analyse(self.text(before - 1)))
        for index in range(first - 1, last):
            self._store(index, self._analyse(self.text(index)))
        return first, last

    def _store(self, index: int, found: InfoT | None) -> None:
        if found is None:
            self.info.pop(index, None)
        else:
            self.info[index] = found
