"""Lossless rabbitmq.conf (the cuttlefish "sysctl" format of RabbitMQ 3.7+).

    doc = parse(data, "rabbitmq.conf")       # ParseError naming the line for what
    doc.settings()["heartbeat"]              #   cuttlefish refuses
    doc.set("heartbeat", "60")               # edits the value bytes in place

What a line may be, as cuttlefish's ``conf_parse`` grammar says (checked against
the cuttlefish 3.0.1 of Debian 12's RabbitMQ 3.10.8 and Kyorai/cuttlefish):

* blank (spaces and tabs only) or a comment (``#`` first after blanks);
* ``key = value``: the key is dot-separated words of ``[A-Za-z0-9_-]`` (``\\.`` is
  a literal dot inside a word, numbered keys like ``...nodes.1`` are plain words);
  blanks around ``=`` are free; an unquoted value ends at ``#`` (the rest of the
  line is a comment) and loses its trailing blanks; a value in single quotes may
  hold ``#`` (RabbitMQ's docs: such a line must carry no comment);
* ``include <path>``.

Anything else (a line without ``=``, a key with other characters, ``key =``
with no value, bytes that are not UTF-8) makes cuttlefish refuse the whole file,
so ``parse`` raises ``ParseError`` naming the file and line.  Lines RabbitMQ may
still get wrong are ``doc.problems``, kept byte for byte, left out of
``settings()`` and never edited:

* a quoted value followed by a comment or other text, or a quote never closed;
* blanks after the value on a last line without a line break: cuttlefish keeps
  them in the value (``heartbeat = 60  `` at the very end reads as ``"60  "``).

Single quotes are only understood by newer cuttlefish (RabbitMQ 3.12 era and
later); the cuttlefish 3.0.1 in RabbitMQ 3.10 reads them as part of the value.

``settings()``: key as written -> value (``str``, quotes removed); the last line
of a key wins.  Unknown keys are not judged here (that needs RabbitMQ's schemas).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from remediate.errors import ParseError
from remediate.formats.base import ABSENT, Edit, Problem
from remediate.formats.lines import LineDocument, decode, duplicate_note, kept_note, removed_note
from remediate.formats.rabbitmq_schema import value_problem
from remediate.model.secrets import is_secret_setting

__all__ = ["RabbitLine", "RabbitmqDocument", "is_secret_key", "parse"]

_WORD = r"(?:\\\.|[A-Za-z0-9_-])+"
_KEY = re.compile(rf"{_WORD}(?:\.{_WORD})*")
_SETTING = re.compile(
    rf"(?P<lead>[ \t]*)(?P<key>{_KEY.pattern})[ \t]*=[ \t]*(?P<rest>.*)", re.DOTALL
)
_INCLUDE = re.compile(r"[ \t]*include[ \t]*(?P<path>[A-Za-z0-9\-_.*/]+)(?:[ \t]*#.*)?", re.DOTALL)
_NOT_BLANK_OR_COMMENT = re.compile(r"\n[ \t]*[^ \t\n#]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def is_secret_key(key: str) -> bool:
    """Whether a rabbitmq.conf key holds a secret: ``default_pass``, ``mqtt.default_pass``,
    ``ssl_options.password``, ``auth_ldap.dn_lookup_bind.password``, OAuth and cloud
    peer-discovery secrets and tokens."""
    return is_secret_setting("rabbitmq", key)


class RabbitLine(NamedTuple):
    """What cuttlefish makes of one line that is neither blank nor a comment."""

    text: str
    #: the key as written; "" for an include line or a refused line
    key: str = ""
    #: the value (quotes removed), or the included path
    value: str = ""
    #: where the value sits in ``text`` (quotes included)
    span: tuple[int, int] = (0, 0)
    quoted: bool = False
    #: unquoted value followed by blanks (matters on a last line without a line break)
    trailing_blank: bool = False
    include: bool = False
    #: (0-based offset, reason): RabbitMQ may misread this line
    problem: tuple[int, str] | None = None
    #: (0-based offset, reason): cuttlefish refuses the whole file
    error: tuple[int, str] | None = None


def analyse_line(text: str) -> RabbitLine | None:
    """Read one line (without its ending); None for a blank or comment line."""
    stripped = text.lstrip(" \t")
    if not stripped or stripped[0] == "#":
        return None
    setting = _SETTING.fullmatch(text)
    if setting is not None:
        return _analyse_value(text, setting.group("key"), setting.start("rest"))
    include = _INCLUDE.fullmatch(text)
    if include is not None:
        return RabbitLine(
            text, value=include.group("path"), span=include.span("path"), include=True
        )
    offset = len(text) - len(stripped)
    if "=" not in text:
        reason = "not a 'key = value' setting, a comment or an include: cuttlefish refuses the file"
        return RabbitLine(text, error=(offset, reason))
    reason = (
        "the key before '=' may hold only letters, digits, '_', '-' and dots: "
        "cuttlefish refuses the file"
    )
    return RabbitLine(text, error=(offset, reason))


def _analyse_value(text: str, key: str, start: int) -> RabbitLine:
    rest = text[start:]
    if rest.startswith("'"):
        close = rest.find("'", 1)
        if close < 0:
            return RabbitLine(
                text,
                key,
                rest,
                (start, len(text)),
                problem=(start, "the single quote is never closed on this line"),
            )
        span = (start, start + close + 1)
        after = rest[close + 1 :].lstrip(" \t")
        at = len(text) - len(after)
        problem = None
        if after.startswith("#"):
            problem = (
                at,
                (
                    "a quoted value must not be followed by a comment "
                    "(RabbitMQ's docs); put the comment on the line above"
                ),
            )
        elif after:
            problem = (at, "text after the closing quote: cuttlefish refuses it")
        return RabbitLine(text, key, rest[1:close], span, True, problem=problem)
    comment = rest.find("#")
    region = rest if comment < 0 else rest[:comment]
    value = region.rstrip(" \t")
    if not value:
        reason = f"no value after '=' for {key}: cuttlefish refuses the file"
        return RabbitLine(text, error=(start, reason))
    trailing = comment < 0 and len(value) < len(region)
    typed = value_problem(key, value)
    return RabbitLine(
        text,
        key,
        value,
        (start, start + len(value)),
        trailing_blank=trailing,
        problem=(start, typed) if typed else None,
    )


def parse(data: bytes, path: str) -> RabbitmqDocument:
    """Parse a rabbitmq.conf (or a conf.d file); ParseError for what cuttlefish refuses."""
    text = decode(data)
    bad = _NOT_UTF8.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ParseError(
            "bytes that are not UTF-8: cuttlefish refuses the file", path=path, line=line
        )
    doc = RabbitmqDocument(text, path)
    for index, line_info in sorted(doc.info.items()):
        if line_info.error is not None:
            column = line_info.error[0] + 1
            raise ParseError(line_info.error[1], path=path, line=index + 1, column=column)
    return doc


class RabbitmqDocument(LineDocument[RabbitLine]):
    kind = "rabbitmq"

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.problems = []
        self._load(text)
        self._lines_changed()

    def _candidate_line(self) -> re.Pattern[str]:
        return _NOT_BLANK_OR_COMMENT

    def _analyse(self, text: str) -> RabbitLine | None:
        return analyse_line(text)

    def _lines_changed(self) -> None:
        last = len(self.buffer.lines) - 1
        unterminated = last >= 0 and self.buffer.lines[last].ending == ""
        entries: dict[str, list[int]] = {}
        problems: list[Problem] = []
        for index, line in sorted(self.info.items()):
            problem = line.problem
            if problem is None and line.trailing_blank and unterminated and index == last:
                problem = (
                    line.span[1],
                    (
                        "blanks after the value on the last line, which has "
                        "no line break: cuttlefish keeps them in the value"
                    ),
                )
            if problem is not None:
                problems.append(Problem(index + 1, problem[0] + 1, problem[1]))
            elif line.key:
                entries.setdefault(line.key, []).append(index)
        self._entries = entries
        self.problems = problems

    # --- reading ----------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {key: self.info[indexes[-1]].value for key, indexes in self._entries.items()}

    def current(self, key: str) -> Any:
        indexes = self._entries.get(key)
        return self.info[indexes[-1]].value if indexes else ABSENT

    def line_of(self, key: str) -> int | None:
        indexes = self._entries.get(key)
        return indexes[-1] + 1 if indexes else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        return _normal(a) == _normal(b)

    def includes(self) -> list[str]:
        """The paths of ``include`` lines, in order."""
        return [line.value for _, line in sorted(self.info.items()) if line.include]

    def secrets(self) -> list[str]:
        """Values of secret keys (``default_pass``, ``*.password``...) for masking reports."""
        found = [
            line.value
            for _, line in sorted(self.info.items())
            if line.key and is_secret_key(line.key) and line.value
        ]
        return list(dict.fromkeys(found))

    # --- editing ----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        if _KEY.fullmatch(key) is None:
            raise ValueError(f"{key!r} is not a rabbitmq.conf key")
        text = _value_text(value)
        indexes = self._entries.get(key, [])
        if not indexes:
            start, end = self._append_lines([f"{key} = {_render(text, quoted=False)}"])
            self._lines_changed()
            return Edit((start, end), self._refused_note(key))
        index = indexes[-1]
        line = self.info[index]
        rendered = _render(text, quoted=line.quoted)
        self._replace_line(index, line.text[: line.span[0]] + rendered + line.text[line.span[1] :])
        self._lines_changed()
        return Edit((index + 1, index + 1), duplicate_note([i + 1 for i in indexes], index + 1))

    def remove(self, key: str) -> Edit | None:
        indexes = self._entries.get(key)
        if not indexes:
            return None
        numbers = [i + 1 for i in indexes]
        self._delete_lines(indexes)
        self._lines_changed()
        return Edit(None, removed_note(numbers))

    def _refused_note(self, key: str) -> str:
        lines = [
            p.line for p in self.problems if getattr(self.info.get(p.line - 1), "key", "") == key
        ]
        return kept_note(key, lines) if lines else ""


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as a rabbitmq.conf value")


def _render(value: str, *, quoted: bool) -> str:
    """The value as written after ``=``; single quotes where cuttlefish needs them."""
    if "\n" in value or "\r" in value:
        raise ValueError("a rabbitmq.conf value cannot span lines")
    if (
        not quoted
        and value
        and "#" not in value
        and value == value.strip(" \t")
        and not value.startswith("'")
    ):
        return value
    if "'" in value:
        raise ValueError("a rabbitmq.conf value needing quotes cannot hold a single quote")
    return f"'{value}'"


def _normal(value: Any) -> Any:
    if value is ABSENT or value is None:
        return value
    text = _value_text(value).strip(" \t")
    if text.lower() in ("true", "false"):
        return text.lower()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return text
