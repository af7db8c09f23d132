"""pam_limits files (/etc/security/limits.conf, limits.d/*.conf), kept byte for byte.

Each row is ``<domain> <type> <item> <value>``, read the way pam_limits reads it:
leading whitespace skipped, everything from the first ``#`` cut, the first three
fields split on blanks and tabs, the value the trimmed rest.  A row pam_limits
skips or ignores (wrong number of fields, unknown item or type, a value it cannot
read, a bad uid range) is reported in ``problems`` and kept as it is: pam_limits
logs such lines and carries on, so they are never a ParseError.  ``<domain> -``
alone is pam's valid "no limits for this domain" line.

    doc = parse(data, "limits.conf")
    doc.settings()["* soft nofile"]     -> "65536"
    doc.effective("*", "nofile")        -> ("65536", "65536")   # "-" rows, later row wins
    doc.set("rabbitmq - nofile", "65536")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from remediate.formats.base import ABSENT, Document, Edit, Problem
from remediate.formats.lines import (
    LineBuffer,
    decode_text,
    duplicate_note,
    override_note,
    removed_note,
)

TYPES = ("soft", "hard", "-")
RLIMIT_ITEMS = frozenset(
    {
        "core",
        "data",
        "fsize",
        "memlock",
        "nofile",
        "rss",
        "stack",
        "cpu",
        "nproc",
        "as",
        "locks",
        "sigpending",
        "msgqueue",
        "nice",
        "rtprio",
        "rttime",
    }
)
#: items pam_limits handles itself, not as a setrlimit() soft/hard pair
SPECIAL_ITEMS = frozenset({"maxlogins", "maxsyslogins", "priority", "nonewprivs"})
#: values pam_limits reads as "no limit" (except for priority and nice, where -1 is a number)
UNLIMITED = frozenset({"-1", "-", "unlimited", "infinity"})
_LEADING_NUMBER = re.compile(r"[ \t\n\v\f\r]*[+-]?\d")
_FIELD = re.compile(r"[^ \t]+")
_PAM_WHITESPACE = " \t\n\v\f\r"  # C isspace(), which pam uses to skip a line's indentation


@dataclass(frozen=True)
class LimitRow:
    """One ``<domain> <type> <item> <value>`` row that pam_limits applies."""

    line: int  # 1-based
    domain: str
    type: str  # lower-cased, as pam_limits compares it
    item: str  # lower-cased
    value: str  # as written: the trimmed rest of the row after the item
    value_start: int  # columns of the value in the line's body
    value_end: int

    @property
    def key(self) -> str:
        return f"{self.domain} {self.type} {self.item}"


@dataclass(frozen=True)
class _Fields:
    """A row's fields as pam splits them, with their start columns."""

    words: list[str]
    starts: list[int]
    value_end: int


def split_key(key: str) -> tuple[str, str, str]:
    """``"rabbitmq - nofile"`` -> ``("rabbitmq", "-", "nofile")`` (type and item lower-cased)."""
    parts = key.split()
    if len(parts) != 3 or parts[1].lower() not in TYPES:
        raise ValueError(f"a limits key is '<domain> <soft|hard|-> <item>', not {key!r}")
    return parts[0], parts[1].lower(), parts[2].lower()


def normal_value(item: str, value: str) -> str:
    """A value as pam_limits means it: lower-cased, every spelling of "no limit" alike."""
    value = value.strip(" \t").lower()
    if item not in ("priority", "nice") and value in UNLIMITED:
        return "unlimited"
    return value


def _split_fields(raw: str) -> _Fields | None:
    """pam_limits' split(): three blank-separated fields, then the trimmed rest."""
    cut = raw.find("#")
    content = raw if cut < 0 else raw[:cut]
    indent = len(content) - len(content.lstrip(_PAM_WHITESPACE))
    if indent == len(content):
        return None
    words: list[str] = []
    starts: list[int] = []
    position = indent
    for _ in range(3):
        match = _FIELD.search(content, position)
        if match is None:
            break
        words.append(match.group())
        starts.append(match.start())
        position = match.end()
    rest = content[position:]
    value = rest.strip(" \t")
    value_end = len(content)
    if value:
        start = position + len(rest) - len(rest.lstrip(" \t"))
        words.append(value)
        starts.append(start)
        value_end = start + len(value)
    return _Fields(words, starts, value_end)


def _uid_range_ok(domain: str) -> bool:
    """pam_limits' parse_uid_range(): ``[@%]min:max``, ``min:``, ``:uid`` or no colon."""
    if ":" not in domain:
        return True
    body = domain[1:] if domain[:1] in "@%" else domain
    low, _, high = body.partition(":")
    if low == "":
        return high.isdigit()
    return low.isdigit() and (high == "" or high.isdigit())


def _value_problem(item: str, type_: str, value: str) -> str | None:
    """Why pam_limits would ignore this row's type, item or value, or None."""
    if item not in RLIMIT_ITEMS and item not in SPECIAL_ITEMS:
        return f"unknown limit item '{item}'; pam_limits ignores the row"
    if type_ not in TYPES and item not in ("maxlogins", "maxsyslogins", "nonewprivs"):
        return f"unknown limit type '{type_}' (soft, hard or -); pam_limits ignores the row"
    lowered = value.lower()
    if item == "nonewprivs":
        ok = lowered in ("0", "1")
    elif item not in ("priority", "nice") and lowered in UNLIMITED:
        ok = True
    else:
        ok = bool(_LEADING_NUMBER.match(lowered))  # strtol()/strtoul() read a leading number
    if ok:
        return None
    hint = " (the CR of the CRLF line end is part of it)" if value.endswith("\r") else ""
    return f"pam_limits rejects the value {value!r} for {item}{hint}"


class LimitsDocument(Document):
    kind = "limits"

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._buffer = LineBuffer(text)
        self._index()

    def _index(self) -> None:
        self.rows: list[LimitRow] = []
        self.problems: list[Problem] = []
        for index, line in enumerate(self._buffer.lines):
            # pam reads the CR of a CRLF ending as part of the line
            raw = line.body + line.ending[:-1]
            fields = _split_fields(raw)
            if fields is None:
                continue
            number, words = index + 1, fields.words
            if len(words) == 2 and words[1].startswith("-"):
                continue  # "<domain> -": no limits for that domain, a valid line
            if len(words) != 4:
                self.problems.append(
                    Problem(
                        number,
                        fields.starts[0] + 1,
                        f"expected '<domain> <type> <item> <value>', found "
                        f"{len(words)} field(s); pam_limits skips the line",
                    )
                )
                continue
            domain, type_, item, value = words[0], words[1].lower(), words[2].lower(), words[3]
            reason = _value_problem(item, type_, value)
            if reason is None and not _uid_range_ok(domain):
                reason = f"invalid uid range '{domain}'; pam_limits skips the line"
            if reason is None and domain.startswith("%") and item != "maxlogins":
                reason = "a '%' domain is valid for maxlogins only; pam_limits ignores the row"
            if reason is not None:
                self.problems.append(Problem(number, fields.starts[0] + 1, reason))
                continue
            start = fields.starts[3]
            written = line.body[start : min(fields.value_end, len(line.body))].rstrip(" \t")
            self.rows.append(
                LimitRow(number, domain, type_, item, written, start, start + len(written))
            )

    # -- reading -----------------------------------------------------------------

    def dump(self) -> bytes:
        return self._buffer.encode()

    def settings(self) -> dict[str, Any]:
        """``"<domain> <type> <item>"`` -> value as written; a later row wins."""
        return {row.key: row.value for row in self.rows}

    def line_of(self, key: str) -> int | None:
        domain, type_, item = split_key(key)
        found = [row.line for row in self.rows if row.key == f"{domain} {type_} {item}"]
        return found[-1] if found else None

    def effective(self, domain: str, item: str) -> tuple[Any, Any]:
        """(soft, hard) this file gives ``domain`` for ``item``: a ``-`` row sets both,
        a later row wins; ABSENT where no row sets it."""
        soft: Any = ABSENT
        hard: Any = ABSENT
        for row in self.rows:
            if row.domain == domain and row.item == item.lower():
                if row.type in ("soft", "-"):
                    soft = row.value
                if row.type in ("hard", "-"):
                    hard = row.value
        return soft, hard

    def current(self, key: str) -> Any:
        """The effective value behind ``key``: for a ``-`` key the common value of soft
        and hard, or "soft X, hard Y" when they differ."""
        domain, type_, item = split_key(key)
        soft, hard = self.effective(domain, item)
        if type_ == "soft":
            return soft
        if type_ == "hard":
            return hard
        if soft is ABSENT and hard is ABSENT:
            return ABSENT
        if (
            soft is not ABSENT
            and hard is not ABSENT
            and normal_value(item, soft) == normal_value(item, hard)
        ):
            return soft
        return f"soft {'unset' if soft is ABSENT else soft}, hard {'unset' if hard is ABSENT else hard}"

    def same(self, key: str, a: Any, b: Any) -> bool:
        item = split_key(key)[2]
        return normal_value(item, str(a)) == normal_value(item, str(b))

    # -- editing -----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        """Edit the value of the row that decides ``key`` in place; when no row of that
        exact type decides it (absent, or a later row of another type overrides it),
        append a row to the managed block, formatted like the file's last row."""
        domain, type_, item = split_key(key)
        text = str(value).strip(" \t")
        if not text or "#" in text or "\n" in text or "\r" in text:
            raise ValueError(f"not a limits value: {value!r}")
        deciding = [
            row
            for row in self.rows
            if row.domain == domain
            and row.item == item
            and (type_ == "-" or row.type in (type_, "-"))
        ]
        if deciding and deciding[-1].type == type_:
            row = deciding[-1]
            self._buffer.replace(row.line - 1, row.value_start, row.value_end, text)
            same_key = [r.line for r in deciding if r.type == type_]
            self._index()
            return Edit((row.line, row.line), duplicate_note(same_key, row.line))
        note = ""
        if deciding:
            last = deciding[-1]
            note = override_note(last.line, f"sets '{last.key}'")
        first, _ = self._buffer.add_managed([self._format_row([domain, type_, item, text])])
        self._index()
        return Edit((first, first), note)

    def remove(self, key: str) -> Edit | None:
        domain, type_, item = split_key(key)
        doomed = [row.line for row in self.rows if row.key == f"{domain} {type_} {item}"]
        if not doomed:
            return None
        self._buffer.delete([n - 1 for n in doomed])
        self._index()
        return Edit(None, removed_note(doomed))

    def _format_row(self, fields: list[str]) -> str:
        """A new row laid out like the file's last row: its separators when they hold
        tabs or are single blanks, else padded to its columns; single blanks when the
        file has no row."""
        if not self.rows:
            return " ".join(fields)
        model = self.rows[-1]
        body = self._buffer.lines[model.line - 1].body
        split = _split_fields(body)
        assert split is not None and len(split.starts) == 4
        starts = split.starts
        gaps = [body[starts[i] + len(split.words[i]) : starts[i + 1]] for i in range(3)]
        tabbed = "\t" in "".join(gaps)
        aligned = any(len(gap) > 1 for gap in gaps)
        out = body[: starts[0]]
        for i in range(3):
            if tabbed or not aligned:
                out += fields[i] + gaps[i]
            else:
                out += fields[i] + " " * max(1, starts[i + 1] - starts[i] - len(fields[i]))
        return out + fields[3]


def parse(data: bytes, path: str) -> LimitsDocument:
    """Parse a limits.conf file; only a non-text file (NUL bytes) raises ParseError."""
    return LimitsDocument(decode_text(data, path), path)
