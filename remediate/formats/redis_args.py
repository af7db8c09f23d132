"""Redis config argument syntax: ``sdssplitargs``, Redis-style quoting, memory units.

Pure functions over text decoded with ``surrogateescape`` (a raw byte that is not
UTF-8 appears as a lone surrogate U+DC80..U+DCFF and is written back unchanged).

``split_args`` follows ``sdssplitargs`` in Redis 7 ``src/sds.c``:

* blanks between arguments are C ``isspace`` (space, tab, CR, LF, VT, FF);
* outside quotes an argument ends at space, tab, CR, LF or NUL, and a quote
  anywhere starts a quoted part (``a"b c"`` is the one argument ``ab c``);
* double quotes understand ``\\n \\r \\t \\b \\a``, ``\\xHH`` and ``\\<any>`` = that char;
* single quotes understand only ``\\'``;
* a closing quote must be followed by a blank or the end of the line, and an
  unterminated quote is an error ("Unbalanced quotes" in Redis).

ACL files are read differently (``ACLLoadFromFile``): words are split on single
spaces, quotes mean nothing, and empty words are skipped: see ``split_acl_words``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_C_SPACE = " \t\n\v\f\r"
_UNQUOTED_END = " \n\r\t"
_PLAIN_TOKEN = re.compile(r"[^ \t\r\n]+")
_NEEDS_SLOW_PATH = re.compile(r"[\"'\v\f\x00]")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
_HEX = "0123456789abcdefABCDEF"
_MEMORY = re.compile(r"(\d+)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_UNIT = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}
_NEEDS_QUOTES = re.compile(r"[\s\"'\x00-\x1f\x7f\udc80-\udcff]")


@dataclass(frozen=True)
class Token:
    """One argument: its value as Redis sees it, and where it sits in the line."""

    value: str
    start: int  # offset of its first character in the line
    end: int  # offset just past it (closing quote included)


class QuoteError(ValueError):
    """A line ``sdssplitargs`` refuses; ``offset`` is 0-based in the line."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


def split_args(line: str) -> list[Token]:
    """Split one config line into arguments exactly like Redis's ``sdssplitargs``."""
    nul = line.find("\x00")
    if nul >= 0:  # Redis reads C strings: nothing after a NUL byte exists for it
        line = line[:nul]
    if _NEEDS_SLOW_PATH.search(line) is None:
        return [Token(m.group(), m.start(), m.end()) for m in _PLAIN_TOKEN.finditer(line)]
    return _split_quoted(line)


def _split_quoted(line: str) -> list[Token]:
    tokens: list[Token] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _C_SPACE:
            i += 1
        if i >= n:
            return tokens
        start = i
        parts: list[str] = []
        raw_bytes = False
        while True:
            if i >= n:
                break
            ch = line[i]
            if ch in _UNQUOTED_END:
                break
            if ch == '"':
                i, raw = _read_double_quoted(line, i, parts)
                raw_bytes = raw_bytes or raw
                break
            if ch == "'":
                i = _read_single_quoted(line, i, parts)
                break
            parts.append(ch)
            i += 1
        value = "".join(parts)
        if raw_bytes:  # \xHH escapes: let valid UTF-8 byte runs become characters
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        tokens.append(Token(value, start, i))


def _read_double_quoted(line: str, i: int, parts: list[str]) -> tuple[int, bool]:
    """Read from the opening quote at ``i``; return the offset past the closing one."""
    opening = i
    n = len(line)
    raw = False
    i += 1
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n:
            nxt = line[i + 1]
            if nxt == "x" and i + 3 < n and line[i + 2] in _HEX and line[i + 3] in _HEX:
                byte = int(line[i + 2 : i + 4], 16)
                parts.append(chr(byte) if byte < 0x80 else chr(0xDC00 + byte))
                raw = raw or byte >= 0x80
                i += 4
                continue
            parts.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if ch == '"':
            _check_after_quote(line, i)
            return i + 1, raw
        parts.append(ch)
        i += 1
    raise QuoteError("unbalanced quotes: the double quote is never closed", opening)


def _read_single_quoted(line: str, i: int, parts: list[str]) -> int:
    opening = i
    n = len(line)
    i += 1
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n and line[i + 1] == "'":
            parts.append("'")
            i += 2
            continue
        if ch == "'":
            _check_after_quote(line, i)
            return i + 1
        parts.append(ch)
        i += 1
    raise QuoteError("unbalanced quotes: the single quote is never closed", opening)


def _check_after_quote(line: str, i: int) -> None:
    if i + 1 < len(line) and line[i + 1] not in _C_SPACE:
        raise QuoteError("a closing quote must be followed by a space or the end of the line", i)


def split_acl_words(line: str) -> list[Token]:
    """Split an ACL file line like ``ACLLoadFromFile``: trim, split on single spaces."""
    left = len(line) - len(line.lstrip(" \t\r\n"))
    body = line.strip(" \t\r\n")
    tokens: list[Token] = []
    offset = left
    for word in body.split(" "):
        if word:
            tokens.append(Token(word, offset, offset + len(word)))
        offset += len(word) + 1
    return tokens


def quote_arg(arg: str) -> str:
    """Write ``arg`` so that ``split_args`` reads it back as exactly ``arg``."""
    if arg and _NEEDS_QUOTES.search(arg) is None:
        return arg
    out = ['"']
    for ch in arg:
        code = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in "\n\r\t\a\b":
            out.append("\\" + "nrtab"["\n\r\t\a\b".index(ch)])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_memory(value: str) -> int | None:
    """Bytes for a Redis memory value (``memtoull``), or None if Redis would refuse it.

    Units ``b``, ``k`` = 1000, ``kb`` = 1024, ``m``, ``mb``, ``g``, ``gb``, in any case;
    ``kib``, decimals and negative numbers are not memory values.
    """
    match = _MEMORY.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)) * _UNIT[(match.group(2) or "").lower()]
