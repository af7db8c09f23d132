"""supervisord.conf and conf.d/*.conf (INI), kept byte for byte.

Read the way supervisord reads them (``supervisor/options.py`` ``UnhosedConfigParser``, a
``configparser.RawConfigParser`` with ``inline_comment_prefixes=(';', '#')``): ``[section]``
headers, ``key = value`` or ``key: value`` (keys case-insensitive, stored lower-case), full-line
comments starting with ``;`` or ``#``, an inline comment only after a blank, and indented lines
continuing the previous value. supervisord passes ``strict=False``: a section given twice is
merged and a key given twice keeps its last value. A setting before any section, or a line
that is none of these, makes supervisord refuse the file (ParseError).

    doc = parse(b"[program:worker]\\ncommand=celery -A proj worker\\n", "worker.conf")
    doc.settings()["program:worker.command"]      # "celery -A proj worker"
    doc.set("program:worker.autorestart", "true")   # added after the section's last line
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import Document, Edit
from remediate.formats.lines import decode, encode, split_lines

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]")
_OPTION = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*[=:]\s*(?P<value>.*)$")
_INLINE_COMMENT = re.compile(r"\s[;#]")


@dataclass(frozen=True)
class Option:
    """One ``key = value`` of a section, possibly continued on indented lines."""

    section: str
    key: str  # lower-case, as configparser stores it
    value: str  # inline comment cut, continuation lines joined with "\n"
    first: int  # 0-based index of the key's line
    last: int  # 0-based index of its last continuation line
    value_start: int  # column where the value begins on the first line
    value_end: int  # column where it ends (before an inline comment and blanks)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


@dataclass(frozen=True)
class Section:
    name: str
    header: int  # 0-based index
    last_content: int  # index of its last option line (the header when it has none)


def comment_start(line: str) -> int:
    """Where an inline comment starts in a whole line, exactly as configparser finds it: round
    by round over each prefix's next occurrence, the first round with a prefix at column 0 or
    after a blank wins (so in ``command=; ; #`` the comment is ``#``, not the second ``;``)."""
    found = len(line)
    positions = {";": -1, "#": -1}
    while found == len(line) and positions:
        following = {}
        for prefix, index in positions.items():
            index = line.find(prefix, index + 1)
            if index == -1:
                continue
            following[prefix] = index
            if index == 0 or line[index - 1].isspace():
                found = min(found, index)
        positions = following
    return found


def _value_span(text: str, start: int) -> tuple[int, int]:
    end = comment_start(text)
    end = end if end >= start else len(text)
    return start, len(text[:end].rstrip())


def _is_comment(text: str) -> bool:
    return text.lstrip().startswith((";", "#"))


class SupervisordDocument(Document):
    kind = "supervisord"

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.problems = []
        self.raw = [line.text for line in split_lines(text)]
        self._index()

    def _index(self) -> None:
        sections: dict[str, Section] = {}
        options: dict[str, Option] = {}
        order: list[Option] = []
        current: str | None = None
        index = 0
        while index < len(self.raw):
            text = body_of(self.raw[index])
            stripped = text.strip()
            if not stripped or _is_comment(text):
                index += 1
                continue
            header = _SECTION.match(text)
            if header and not text[:1].isspace():
                current = header.group("name")
                sections[current] = Section(current, index, index)  # a repeat: edits go last
                index += 1
                continue
            match = _OPTION.match(text)
            if text[:1].isspace() or match is None:
                raise ParseError(
                    "not a 'key = value' line, a [section] or a comment: "
                    "supervisord refuses the file",
                    path=self.path,
                    line=index + 1,
                )
            if current is None:
                raise ParseError(
                    "a setting before any [section]: supervisord refuses the file",
                    path=self.path,
                    line=index + 1,
                )
            key = match.group("key").strip().lower()
            start, end = _value_span(text, match.start("value"))
            parts = [text[start:end]]
            last = index
            while last + 1 < len(self.raw):
                following = body_of(self.raw[last + 1])
                if not following[:1].isspace() or not following.strip():
                    break
                last += 1
                if not _is_comment(following):
                    body = following[: comment_start(following)].strip()
                    parts.append(body)
            option = Option(current, key, "\n".join(parts).rstrip(), index, last, start, end)
            options[option.name] = option  # the last one wins
            order.append(option)
            sections[current] = Section(current, sections[current].header, last)
            index = last + 1
        self._sections = sections
        self._options = options
        self.options = order

    # --- reading ----------------------------------------------------------------

    def dump(self) -> bytes:
        return encode("".join(self.raw))

    def sections(self) -> list[str]:
        return list(self._sections)

    def settings(self) -> dict[str, Any]:
        """``"section.key"`` -> value, e.g. ``"program:worker.autorestart"`` -> ``"true"``."""
        return {option.name: option.value for option in self.options}

    def line_of(self, key: str) -> int | None:
        section, _, name = key.rpartition(".")
        option = self._options.get(f"{section}.{name.lower()}")
        if option is not None:
            return option.first + 1
        found = self._sections.get(key)
        return found.header + 1 if found else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        return str(a).strip().lower() == str(b).strip().lower()

    # --- editing ----------------------------------------------------------------

    def _newline(self) -> str:
        ended = [line for line in self.raw if line.endswith("\n")]
        crlf = sum(1 for line in ended if line.endswith("\r\n"))
        return "\r\n" if ended and crlf * 2 > len(ended) else "\n"

    def set(self, key: str, value: Any) -> Edit:
        section, _, name = key.rpartition(".")
        if not section or not name:
            raise ValueError(f"a supervisord key is 'section.key', not {key!r}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text or "\r" in text:
            raise ValueError("a supervisord value written by this tool fits on one line")
        option = self._options.get(f"{section}.{name.lower()}")
        newline = self._newline()
        if option is not None:
            line = body_of(self.raw[option.first])
            ending = self.raw[option.first][len(line) :]
            self.raw[option.first] = (
                line[: option.value_start] + text + line[option.value_end :] + ending
            )
            del self.raw[option.first + 1 : option.last + 1]
            self._index()
            return Edit((option.first + 1, option.first + 1))
        if self.raw and not self.raw[-1].endswith("\n"):
            self.raw[-1] += newline
        found = self._sections.get(section)
        if found is None:
            at = len(self.raw)
            self.raw[at:] = [f"[{section}]{newline}", f"{name}={text}{newline}"]
            self._index()
            return Edit((at + 2, at + 2), f"added section [{section}]")
        at = found.last_content + 1
        self.raw.insert(at, f"{name}={text}{newline}")
        self._index()
        return Edit((at + 1, at + 1))

    def remove(self, key: str) -> Edit | None:
        section, _, name = key.rpartition(".")
        option = self._options.get(f"{section}.{name.lower()}")
        if option is None:
            return None
        del self.raw[option.first : option.last + 1]
        self._index()
        return Edit(None, f"removed {key} from line {option.first + 1}")


def parse(data: bytes, path: str) -> SupervisordDocument:
    """Parse a supervisord config; ParseError for what supervisord refuses."""
    return SupervisordDocument(decode(data), path)


def body_of(raw_line: str) -> str:
    """A raw line without its ending (``\\r\\n`` or ``\\n``)."""
    return split_lines(raw_line)[0].body if raw_line else ""
