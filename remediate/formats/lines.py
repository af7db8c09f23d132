"""Physical lines kept byte for byte, for the line-oriented formats.

A ``LineBuffer`` holds a file as a list of ``Line`` (body + its own line ending),
so joining them gives back the exact input.  Bytes are decoded as UTF-8 with
``surrogateescape``: any byte sequence, valid UTF-8 or not, survives the round
trip.  The buffer knows the file's dominant line ending, edits a span of text in
place, and keeps the single marked block where a merge appends missing settings
(delimited by comment lines holding ``MANAGED_BEGIN`` / ``MANAGED_END``).
Lines end at LF (CRLF kept as one ending); systemd's reader also ends them at a
lone CR (``ANY_LINE_ENDS``).  New lines take the file's dominant line ending; a
last line without one gets it before anything is appended.

    buffer = LineBuffer(decode_text(data, path))
    buffer.replace(3, 8, 12, "65536")              # line index 3, columns 8..12
    first, last = buffer.add_managed(["rabbitmq - nofile 65536"])
    buffer.encode() == new file bytes

Used by limits_conf, systemd_unit and shell_env; pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from remediate.errors import ParseError
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END

#: A line ends at LF; a CR just before it belongs to the ending (CRLF files).
LF_LINE_ENDS = re.compile(r"\r?\n")
#: A line also ends at a lone CR (systemd's reader).
ANY_LINE_ENDS = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class Line:
    """One physical line: its text without the ending, and the ending ("" for a last
    line without one)."""

    body: str
    ending: str

    @property
    def text(self) -> str:
        return self.body + self.ending


def decode_text(data: bytes, path: str) -> str:
    """Decode file bytes losslessly; a NUL byte means it is not a text file (ParseError)."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ParseError("contains a NUL byte: not a text config file", path=path, line=line)
    return data.decode("utf-8", "surrogateescape")


def split_lines(text: str, line_ends: re.Pattern[str] = LF_LINE_ENDS) -> list[Line]:
    """Split ``text`` into lines that keep their endings; ``""`` gives no lines."""
    lines: list[Line] = []
    start = 0
    for match in line_ends.finditer(text):
        lines.append(Line(text[start:match.start()], match.group()))
        start = match.end()
    if start < len(text):
        lines.append(Line(text[start:], ""))
    return lines


def is_marker(body: str, marker: str, comment: str = "#") -> bool:
    """Whether ``body`` is a comment line holding ``marker`` (MANAGED_BEGIN or MANAGED_END)."""
    stripped = body.lstrip(" \t")
    return stripped.startswith(comment) and marker in stripped


def duplicate_note(lines: Sequence[int], edited: int) -> str:
    """The note for a setting defined more than once: which definition was edited."""
    if len(lines) < 2:
        return ""
    times = "twice" if len(lines) == 2 else f"{len(lines)} times"
    listed = ", ".join(str(n) for n in lines)
    return f"defined {times} (lines {listed}): edited the effective one, line {edited}"


class LineBuffer:
    """The mutable list of lines behind a document. Indexes are 0-based; the
    ranges it returns for people are 1-based and inclusive."""

    def __init__(self, text: str, line_ends: re.Pattern[str] = LF_LINE_ENDS) -> None:
        self.line_ends = line_ends
        self.lines = split_lines(text, line_ends)

    def text(self) -> str:
        return "".join(line.text for line in self.lines)

    def encode(self) -> bytes:
        return self.text().encode("utf-8", "surrogateescape")

    @property
    def newline(self) -> str:
        """The file's dominant line ending, for new lines ("\\n" when it has none)."""
        counts = {ending: sum(1 for line in self.lines if line.ending == ending)
                  for ending in ("\n", "\r\n", "\r")}
        best = max(counts, key=lambda ending: counts[ending])
        return best if counts[best] > counts["\n"] else "\n"

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
        Inserting after a last line that has no final newline first gives it one.
        Returns the 1-based inclusive range of the new lines."""
        newline = self.newline
        if index == len(self.lines) and self.lines and self.lines[-1].ending == "":
            last = self.lines[-1].body
            # a CR the body ends with must stay in the body, not pair up with our LF
            ending = "\r\n" if last.endswith("\r") and self.line_ends is LF_LINE_ENDS else newline
            self.lines[-1] = Line(last, ending)
        new: list[Line] = []
        before = self.lines[index - 1].ending if index else ""
        for body in bodies:
            # an empty LF line right after a lone CR would read back as one CRLF ending
            ending = "\r" if before == "\r" and not body and newline == "\n" else newline
            new.append(Line(body, ending))
            before = ending
        self.lines[index:index] = new
        return index + 1, index + len(bodies)

    def managed_block(self, lo: int = 0, hi: int | None = None,
                      comment: str = "#") -> tuple[int, int] | None:
        """Indexes of the first BEGIN marker in ``lo:hi`` and the END marker that closes
        it inside the same range, or None (a BEGIN without its END is not a block)."""
        hi = len(self.lines) if hi is None else hi
        for i in range(lo, hi):
            if is_marker(self.lines[i].body, MANAGED_BEGIN, comment):
                for j in range(i + 1, hi):
                    if is_marker(self.lines[j].body, MANAGED_END, comment):
                        return i, j
                return None
        return None

    def managed_blocks(self, comment: str = "#") -> list[tuple[int, int]]:
        """Every (BEGIN, END) marker pair in the file, in order."""
        blocks: list[tuple[int, int]] = []
        lo = 0
        while (block := self.managed_block(lo, comment=comment)) is not None:
            blocks.append(block)
            lo = block[1] + 1
        return blocks

    def add_managed(self, bodies: Sequence[str], *, lo: int = 0, hi: int | None = None,
                    at: int | None = None, comment: str = "#") -> tuple[int, int]:
        """Add lines to the managed block found in ``lo:hi`` (just before its END marker);
        without one, create a block at index ``at`` (default: end of file).  An empty
        file is entirely ours, so it gets the lines without markers.  Returns the
        1-based inclusive range of ``bodies`` in the new buffer."""
        block = self.managed_block(lo, hi, comment)
        if block is not None:
            return self.insert(block[1], bodies)
        if not self.lines:
            return self.insert(0, bodies)
        at = len(self.lines) if at is None else at
        first, last = self.insert(at, [f"{comment} {MANAGED_BEGIN}", *bodies,
                                       f"{comment} {MANAGED_END}"])
        return first + 1, last - 1
