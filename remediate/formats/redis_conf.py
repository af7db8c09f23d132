"""Lossless redis.conf, sentinel.conf and Redis ACL files.

    doc = parse(data, "redis.conf")          # never raises: every byte is kept
    doc.settings()["timeout"]                # "300"
    doc.set("timeout", "0")                  # edits the value bytes in place

Value shapes in ``settings()`` (keys are lower-case Redis 7 names: ``slaveof`` is
reported as ``replicaof``, ``slave-read-only`` as ``replica-read-only``):

* a single-value directive: the ``str`` of its arguments joined by one space
  (``"300"``, ``"yes"``, ``"2gb"``, ``"127.0.0.1 -::1"``); the last line wins;
* a repeatable directive (``save``, ``rename-command``, ``include``, ``loadmodule``,
  ``user``, ``client-output-buffer-limit``, ``sentinel``): ``list[tuple[str, ...]]``,
  one tuple of arguments per line; for ``sentinel`` the subcommand is lower-cased.
  ``set(name, lines)`` makes the lines of that directive exactly ``lines`` (a list of
  tuples or strings; one tuple or string is one line).

For merging, ``managed_items()`` names each line of a repeatable directive by what it
is about, so a template that manages one user or one buffer class leaves the others
alone: ``user alice``, ``client-output-buffer-limit replica``, ``rename-command
config``, ``include <path>``, ``loadmodule <path>``, ``sentinel monitor mymaster``,
``sentinel resolve-hostnames``; its value is the line's argument tuple.  ``save``
is managed as one list.

Lines Redis would refuse are listed in ``doc.problems``, kept byte for byte, left
out of ``settings()`` and never edited.  See ``redis_lines`` for the three flavors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from remediate.formats.base import ABSENT, Edit, Problem
from remediate.formats.lines import LineDocument, decode, duplicate_note, kept_note, removed_note
from remediate.formats.redis_args import parse_memory, quote_arg, split_args
from remediate.formats.redis_directives import (
    ENUM_DIRECTIVES,
    KNOWN_DIRECTIVES,
    MEMORY_DIRECTIVES,
    MULTI_ARG_DIRECTIVES,
    REPEATABLE_DIRECTIVES,
    SECRET_DIRECTIVES,
    SENTINEL_SECRET_ARG,
    canonical_name,
)
from remediate.formats.redis_lines import (
    ANY_LINE,
    FLAVORS,
    RedisLine,
    analyse_line,
    detect_flavor,
    entry_key,
)

__all__ = ["FLAVORS", "KNOWN_DIRECTIVES", "SECRET_DIRECTIVES", "RedisDocument", "parse"]

Args = tuple[str, ...]


def parse(data: bytes, path: str, *, flavor: str | None = None) -> RedisDocument:
    """Parse a Redis config, sentinel config or ACL file (``flavor`` detected if None)."""
    text = decode(data)
    flavor = flavor or detect_flavor(text, path)
    if flavor not in FLAVORS:
        raise ValueError(f"unknown Redis file flavor {flavor!r}; expected one of {FLAVORS}")
    return RedisDocument(text, path, flavor)


class RedisDocument(LineDocument[RedisLine]):
    kind = "redis"

    def __init__(self, text: str, path: str, flavor: str) -> None:
        self.path = path
        #: "server" (redis.conf), "sentinel" (sentinel.conf) or "acl" (an ACL file)
        self.flavor = flavor
        self.uses_managed_block = flavor != "acl"  # ACL files cannot hold comment lines
        self.problems = []
        self._load(text)
        self._lines_changed()

    def _candidate_line(self) -> re.Pattern[str]:
        return ANY_LINE if self.flavor == "acl" else super()._candidate_line()

    def _analyse(self, text: str) -> RedisLine | None:
        return analyse_line(text, self.flavor)

    def _lines_changed(self) -> None:
        """Re-derive which lines are settings, and the problems (line numbers shift)."""
        lines = sorted(self.info.items())
        has_modules = any(
            line.problem is None
            for _, line in lines
            if line.key == "loadmodule" or line.key == "include"
        )
        entries: dict[str, list[int]] = {}
        problems: list[Problem] = []
        users: set[str] = set()
        for index, line in lines:
            if not line.key or line.ignored:
                if line.problem is not None:
                    problems.append(Problem(index + 1, line.problem[0] + 1, line.problem[1]))
                continue
            problem = line.problem
            if problem is None and line.key == "user":
                if line.args[0] in users:
                    problem = (line.tokens[1].start, "the same user is defined twice")
                users.add(line.args[0])
            elif problem is None and "." in line.key and not has_modules and self.flavor != "acl":
                problem = (
                    line.tokens[0].start,
                    (
                        f"module option {line.name} without a "
                        "loadmodule line: Redis aborts at start-up"
                    ),
                )
            if problem is not None:
                problems.append(Problem(index + 1, problem[0] + 1, problem[1]))
                continue
            entries.setdefault(line.key, []).append(index)
        self._entries = entries
        self.problems = problems
        self._settings: dict[str, Any] | None = None  # every edit ends here: recomputed on demand

    # --- reading ----------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """Directive -> value; computed once per version of the document (a fleet plan asks
        the same shared document several times per host), a fresh dict every call."""
        if self._settings is None:
            result: dict[str, Any] = {}
            for key, indexes in self._entries.items():
                if key in REPEATABLE_DIRECTIVES:
                    result[key] = [self._entry_args(i) for i in indexes]
                else:
                    result[key] = " ".join(self.info[indexes[-1]].args)
            self._settings = result
        return dict(self._settings)

    def managed_items(self) -> Iterator[tuple[str, Any]]:
        for key, indexes in self._entries.items():
            if key == "save" or key not in REPEATABLE_DIRECTIVES:
                yield key, self.settings_value(key)
                continue
            last: dict[str, int] = {}
            for index in indexes:
                last[entry_key(key, self.info[index].args)] = index
            for name, index in last.items():
                yield name, self._entry_args(index)

    def settings_value(self, key: str) -> Any:
        """The ``settings()`` value of one directive, or ABSENT."""
        indexes = self._entries.get(canonical_name(key))
        if not indexes:
            return ABSENT
        if canonical_name(key) in REPEATABLE_DIRECTIVES:
            return [self._entry_args(i) for i in indexes]
        return " ".join(self.info[indexes[-1]].args)

    def current(self, key: str) -> Any:
        name, entry = self._split_key(key)
        if entry is None:
            return self.settings_value(name)
        indexes = self._entry_lines(name, entry)
        return self._entry_args(indexes[-1]) if indexes else ABSENT

    def line_of(self, key: str) -> int | None:
        name, entry = self._split_key(key)
        indexes = self._entries.get(name, []) if entry is None else self._entry_lines(name, entry)
        return indexes[-1] + 1 if indexes else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        name, _ = self._split_key(key)
        return self._normal(name, a) == self._normal(name, b)

    def secrets(self) -> list[str]:
        """Secret values in the file (passwords, password hashes) for masking reports."""
        found: list[str] = []
        for _, line in sorted(self.info.items()):
            if not line.key:
                continue
            args = line.args if line.tokens else _rough_args(line)
            if line.key in SECRET_DIRECTIVES:
                found.extend(args)
            elif line.key == "user":
                found.extend(arg[1:] for arg in args[1:] if arg[:1] in "<>#!" and len(arg) > 1)
            elif line.key == "sentinel" and args:
                position = SENTINEL_SECRET_ARG.get(args[0].lower())
                if position is not None and len(args) > position:
                    found.append(args[position])
        return list(dict.fromkeys(secret for secret in found if secret))

    def spellings(self) -> list[str]:
        """Secret arguments as written (quotes, escapes such as ``\\x65``): how a diff shows
        them, where ``secrets()`` has the value Redis reads."""
        found = [
            line.text[token.start : token.end]
            for _, line in sorted(self.info.items())
            if line.key in SECRET_DIRECTIVES
            for token in line.tokens[1:]
            if token.value not in line.text[token.start : token.end]  # spelled otherwise
        ]
        return list(dict.fromkeys(found))

    # --- editing ----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        """Set a directive (see the module docstring for keys and values).  Raises
        ValueError for a directive Redis 7 does not know in a server config."""
        name, entry = self._split_key(key)
        if self.flavor == "server" and name not in KNOWN_DIRECTIVES and "." not in name:
            raise ValueError(f"unknown directive {name!r}: Redis would refuse the file")
        written = key.strip().split(None, 1)[0].lower()
        if name in REPEATABLE_DIRECTIVES and (entry is None or name == "save"):
            lines = [value] if _is_one_line(value) else list(value)
            edit = self._set_all(name, written, [self._args(name, line) for line in lines])
        elif entry is not None:
            edit = self._set_entry(name, written, entry, self._args(name, value))
        else:
            edit = self._set_single(name, written, self._args(name, value))
        self._lines_changed()
        return edit

    def remove(self, key: str) -> Edit | None:
        name, entry = self._split_key(key)
        indexes = self._entries.get(name, []) if entry is None else self._entry_lines(name, entry)
        if not indexes:
            return None
        numbers = [i + 1 for i in indexes]
        self._delete_lines(indexes)
        self._lines_changed()
        return Edit(None, removed_note(numbers))

    def _set_single(self, name: str, written: str, args: Args) -> Edit:
        indexes = self._entries.get(name, [])
        refused = self._refused_lines(name)
        note = kept_note(name, refused) if refused else ""
        if not indexes:
            start, end = self._append_lines([f"{written} {self._render(args)}"])
            return Edit((start, end), note)
        self._replace_args(indexes[-1], args)
        number = indexes[-1] + 1
        twice = duplicate_note([i + 1 for i in indexes], number)
        note = "; ".join(part for part in (twice, note) if part)
        return Edit((number, number), note)

    def _set_entry(self, name: str, written: str, entry: str, args: Args) -> Edit:
        if _fold(name, entry_key(name, args)) != _fold(name, entry_key(name, entry.split())):
            raise ValueError(f"the value {args!r} is not about {name} {entry}")
        indexes = self._entry_lines(name, entry)
        if not indexes:
            start, end = self._append_lines([f"{written} {self._render(args)}"])
            return Edit((start, end))
        self._replace_args(indexes[-1], args)
        number = indexes[-1] + 1
        return Edit((number, number), duplicate_note([i + 1 for i in indexes], number))

    def _set_all(self, name: str, written: str, wanted: list[Args]) -> Edit:
        """Make the lines of a repeatable directive exactly ``wanted``: keep equal lines,
        edit lines about the same thing in place, remove the rest, append what is new."""
        existing = self._entries.get(name, [])
        remaining = list(wanted)
        unmatched: list[int] = []
        for index in existing:
            normal = self._normal_args(name, self.info[index].args)
            match = next((w for w in remaining if self._normal_args(name, w) == normal), None)
            if match is None:
                unmatched.append(index)
            else:
                remaining.remove(match)
        edited: list[int] = []
        surplus: list[int] = []
        for index in unmatched:
            identity = entry_key(name, self.info[index].args)
            match = next((w for w in remaining if entry_key(name, w) == identity), None)
            if match is None:
                surplus.append(index)
                continue
            remaining.remove(match)
            self._replace_args(index, match)
            edited.append(index)
        self._delete_lines(surplus)
        touched = [i + 1 - sum(1 for s in surplus if s < i) for i in edited]
        if remaining:
            start, end = self._append_lines([f"{written} {self._render(a)}" for a in remaining])
            touched += [start, end]
        note = removed_note([i + 1 for i in surplus]) if surplus else ""
        return Edit((min(touched), max(touched)) if touched else None, note)

    def _replace_args(self, index: int, args: Args) -> None:
        line = self.info[index]
        tokens = line.tokens
        rendered = self._render(args)
        if len(tokens) > 1:
            start, end = tokens[1].start, tokens[-1].end
        else:
            start, end = tokens[0].end, tokens[0].end
            rendered = " " + rendered
        self._replace_line(index, line.text[:start] + rendered + line.text[end:])

    # --- helpers ----------------------------------------------------------------

    def _split_key(self, key: str) -> tuple[str, str | None]:
        name, _, entry = key.strip().partition(" ")
        name = canonical_name(name)
        return name, (entry.strip() or None) if name in REPEATABLE_DIRECTIVES else None

    def _entry_lines(self, name: str, entry: str) -> list[int]:
        wanted = _fold(name, entry_key(name, entry.split()))
        return [
            i
            for i in self._entries.get(name, [])
            if _fold(name, entry_key(name, self.info[i].args)) == wanted
        ]

    def _refused_lines(self, name: str) -> list[int]:
        refused = {problem.line for problem in self.problems}
        return sorted(
            i + 1 for i, line in self.info.items() if line.key == name and i + 1 in refused
        )

    def _entry_args(self, index: int) -> Args:
        line = self.info[index]
        if line.key == "sentinel" and line.args:
            return (line.args[0].lower(), *line.args[1:])
        return line.args

    def _args(self, name: str, value: Any) -> Args:
        """Arguments for a value given as settings() would give it (or a number/bool)."""
        if isinstance(value, bool):
            return ("yes" if value else "no",)
        if isinstance(value, int):
            return (str(value),)
        if isinstance(value, str):
            if name in REPEATABLE_DIRECTIVES:
                return tuple(token.value for token in split_args(value))
            if name in MULTI_ARG_DIRECTIVES:
                return tuple(value.split()) or ("",)
            return (value,)
        if isinstance(value, Sequence):
            return tuple(str(item) for item in value)
        raise TypeError(f"cannot write {type(value).__name__} as a value of {name}")

    def _render(self, args: Args) -> str:
        if self.flavor != "acl":
            return " ".join(quote_arg(arg) for arg in args)
        if any(not arg or " " in arg for arg in args):
            raise ValueError("an ACL file cannot hold an empty word or a word with a space")
        return " ".join(args)

    def _normal(self, name: str, value: Any) -> Any:
        if value is ABSENT or value is None:
            return value
        if name == "save":
            lines = [value] if _is_one_line(value) else value
            return _save_points([self._args(name, line) for line in lines])
        if isinstance(value, list):
            return [self._normal_args(name, self._args(name, item)) for item in value]
        return self._normal_args(name, self._args(name, value))

    def _normal_args(self, name: str, args: Sequence[str]) -> tuple[Any, ...]:
        if name in MEMORY_DIRECTIVES:
            return tuple(_memory_or_text(arg) for arg in args)
        if name == "client-output-buffer-limit":
            return tuple(_buffer_limit_arg(i, arg) for i, arg in enumerate(args))
        if name in ENUM_DIRECTIVES or name in ("replicaof", "rename-command"):
            return tuple(arg.lower() for arg in args)
        if name == "sentinel" and args:
            return (args[0].lower(), *args[1:])
        return tuple(arg.lower() if arg.lower() in ("yes", "no") else arg for arg in args)


def _is_one_line(value: Any) -> bool:
    """A str or a tuple of str is one line's arguments; a list holds several lines."""
    return isinstance(value, str) or (
        isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    )


def _fold(name: str, managed: str) -> str:
    return managed if name == "user" else managed.lower()


def _memory_or_text(arg: str) -> Any:
    size = parse_memory(arg)
    return arg if size is None else size


def _buffer_limit_arg(position: int, arg: str) -> Any:
    if position % 4 == 0:
        return "replica" if arg.lower() == "slave" else arg.lower()
    if position % 4 in (1, 2):
        return _memory_or_text(arg)
    return arg


def _save_points(lines: list[Args]) -> list[Args]:
    """The save points Redis ends up with: lines accumulate, ``save ""`` clears."""
    points: list[Args] = []
    for args in lines:
        if list(args) == [""]:
            points.clear()
            continue
        points.extend(tuple(args[i : i + 2]) for i in range(0, len(args), 2))
    return sorted(points)


def _rough_args(line: RedisLine) -> Args:
    """Best-effort words of a line Redis cannot split (for masking secrets only)."""
    rest = line.text.strip().split(None, 1)[1:] or [""]
    words = rest[0].split()
    return (rest[0], rest[0].strip("\"'"), *words, *(word.strip("\"'") for word in words))
