"""docker-compose files as a managed file kind (``kind: compose-file``): the Redis settings a
service's ``command: redis-server --timeout 300 ...`` gives (string or list form), edited
token by token; every other byte of the YAML stays as it was.

Redis makes a config line of every ``--name`` and the words after it (``src/server.c``
``main``), so settings are named ``services.<service>.command:<directive>``
(``services.redis.command:timeout``). A template is a compose file of the same shape::

    services:
      redis:
        command: redis-server --timeout 0 --tcp-keepalive 60

An option the command has gets its value words replaced in place; a missing one is appended
(``--tcp-keepalive 60`` after the last word, or new list items after the last item). A
service without a ``redis-server`` command is not edited (adding a command would replace the
image's own). A command in a form whose words cannot be placed exactly (a multi-line or
escaped string) is read but refused for edits, naming its line.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from remediate.errors import ParseError
from remediate.formats.base import ABSENT, Document, Edit, Problem
from remediate.formats.redis_args import quote_arg, split_args
from remediate.formats.redis_conf import RedisDocument
from remediate.formats.redis_conf import parse as parse_redis
from remediate.formats.redis_directives import canonical_name
from remediate.formats.yaml_nodes import (
    Node,
    child,
    elements,
    is_mapping,
    is_sequence,
    items,
    line,
    load_documents,
    scalar,
)

KIND = "compose-file"
_SAFE_WORD = re.compile(r"[A-Za-z0-9_./:@%+=,-]+")


def parse(data: bytes, path: str) -> ComposeFileDocument:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    return ComposeFileDocument(text, path)


@dataclass(frozen=True)
class Word:
    """One word of a command and where its bytes sit: file line (0-based), columns."""

    value: str
    row: int
    start: int
    end: int
    style: str  # YAML style of a list item ("", "'", '"'); "shell" for a word of a string


@dataclass
class Command:
    service: str
    node: Node
    words: list[Word] | None  # None: read only (positions unknown)
    argv: list[str]
    doc: RedisDocument
    rows: list[int]  # file line (1-based) of each line of ``doc``
    options: dict[str, list[int]]  # directive -> argv index of each ``--name``

    @property
    def name(self) -> str:
        return f"services.{self.service}.command"


class ComposeFileDocument(Document):
    kind = KIND

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._load(text)

    def _load(self, text: str) -> None:
        self._text = text
        self._lines = text.splitlines(keepends=True)
        docs = load_documents(text, self.path)
        if len(docs) > 1 or (docs and not is_mapping(docs[0])):
            raise ParseError("a compose file is one YAML mapping", path=self.path, line=1)
        root = docs[0] if docs else None
        self._commands: dict[str, Command] = {}
        self.problems = []
        for service, _, body in items(child(root, "services")):
            command = self._command(service, child(body, "command"))
            if command is None:
                continue
            self._commands[command.name] = command
            for bad in command.doc.problems:
                where = command.rows[bad.line - 1] if 0 < bad.line <= len(command.rows) else 1
                self.problems.append(Problem(where, bad.column, f"{command.name}: {bad.reason}"))

    def _command(self, service: str, node: Node | None) -> Command | None:
        if node is None:
            return None
        words = self._words(node)
        if is_sequence(node):
            values = [scalar(item) for item in elements(node)]
            if any(value is None for value in values):
                return None
            argv = [value or "" for value in values]
        else:
            text = scalar(node)
            try:
                argv = shlex.split(text) if text else []
            except ValueError:
                return None
        if not argv or argv[0].rsplit("/", 1)[-1] != "redis-server":
            return None
        if words is not None and [w.value for w in words] != argv:
            words = None
        lines: list[list[str]] = []
        rows: list[int] = []
        options: dict[str, list[int]] = {}
        first = 2 if len(argv) > 1 and not argv[1].startswith("-") else 1
        for index in range(first, len(argv)):
            word = argv[index]
            if word.startswith("--") and len(word) > 2:
                options.setdefault(canonical_name(word[2:]), []).append(index)
                lines.append([word[2:]])
                rows.append(words[index].row + 1 if words else line(node))
            elif lines:
                lines[-1].append(quote_arg(word))
        text = "".join(" ".join(parts) + "\n" for parts in lines)
        doc = parse_redis(text.encode("utf-8", "surrogateescape"), f"{self.path}#{service}")
        return Command(service, node, words, argv, doc, rows, options)

    def _words(self, node: Node) -> list[Word] | None:
        """Every word with its exact place in the file, when the form allows it."""
        if is_sequence(node):
            out = []
            for item in elements(node):
                row, start = int(item.start_mark.line), int(item.start_mark.column)
                if int(item.end_mark.line) != row or item.style not in (None, "", "'", '"'):
                    return None
                raw = self._lines[row][start : int(item.end_mark.column)]
                if _as_written(str(item.value), item.style or "") != raw:
                    return None
                out.append(Word(str(item.value), row, start, start + len(raw), item.style or ""))
            return out
        row, start = int(node.start_mark.line), int(node.start_mark.column)
        if int(node.end_mark.line) != row or node.style not in (None, "", "'", '"'):
            return None
        raw = self._lines[row][start : int(node.end_mark.column)]
        inner, offset = (raw[1:-1], start + 1) if node.style else (raw, start)
        if inner != node.value or any(c in inner for c in "'\"\\$`"):
            return None
        return [
            Word(m.group(0), row, offset + m.start(), offset + m.end(), "shell")
            for m in re.finditer(r"\S+", inner)
        ]

    # --- reading ----------------------------------------------------------------

    def dump(self) -> bytes:
        return self._text.encode("utf-8")

    def commands(self) -> dict[str, Command]:
        return dict(self._commands)

    def settings(self) -> dict[str, Any]:
        return {
            f"{name}:{key}": value
            for name, command in self._commands.items()
            for key, value in command.doc.settings().items()
        }

    def managed_items(self) -> Iterator[tuple[str, Any]]:
        for name, command in self._commands.items():
            for key, value in command.doc.managed_items():
                yield f"{name}:{key}", value

    def current(self, key: str) -> Any:
        name, setting = _split(key)
        command = self._commands.get(name)
        return command.doc.current(setting) if command else ABSENT

    def line_of(self, key: str) -> int | None:
        name, setting = _split(key)
        command = self._commands.get(name)
        found = command.doc.line_of(setting) if command else None
        return command.rows[found - 1] if command and found else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        name, setting = _split(key)
        command = self._commands.get(name)
        return (command.doc if command else parse_redis(b"", "x")).same(setting, a, b)

    def secrets(self) -> list[str]:
        return [s for command in self._commands.values() for s in command.doc.secrets()]

    def rule_documents(self) -> list[tuple[Document, tuple[int, ...], tuple[int, ...]]]:
        return [(c.doc, tuple(c.rows), (0,) * len(c.rows)) for c in self._commands.values()]

    # --- editing ----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        name, setting = _split(key)
        command = self._commands.get(name)
        if command is None:
            raise ParseError(
                f"{name}: no `redis-server` command to edit (adding one would replace the "
                "image's own command: write it in the file first)",
                path=self.path,
            )
        words = self._editable(command)
        args = _option_args(setting, value)
        option = canonical_name(setting.split()[0])
        indexes = command.options.get(option)
        if indexes:
            at = indexes[-1]
            end = at + 1
            while end < len(words) and not words[end].value.startswith("--"):
                end += 1
            old = words[at + 1 : end]
            if len(old) == len(args) and old:
                self._replace(
                    [(w, _render(arg, w.style)) for w, arg in zip(old, args, strict=True)]
                )
            elif command.words and words[0].style == "shell":
                left, right = (old[0], old[-1]) if old else (words[at], words[at])
                text = " ".join(_render(arg, "shell") for arg in args)
                if not old:
                    text = words[at].value + (" " + text if text else "")
                self._splice(left.row, left.start, right.end, text)
            else:
                raise ParseError(
                    f"{name}: --{setting} has {len(old)} value words and the template "
                    f"{len(args)}: change the list by hand",
                    path=self.path,
                    line=words[at].row + 1,
                )
            row = words[at].row + 1
        else:
            row = self._append(words, ["--" + setting.strip().split()[0], *args])
        self._verify(name, setting, value)
        return Edit((row, row))

    def remove(self, key: str) -> Edit | None:
        name, setting = _split(key)
        command = self._commands.get(name)
        if command is None or command.doc.current(setting) is ABSENT:
            return None
        raise ParseError(
            f"{name}: removing --{setting} from a command is not supported: remove it by hand",
            path=self.path,
            line=line(command.node),
        )

    def _editable(self, command: Command) -> list[Word]:
        if command.words is None:
            raise ParseError(
                f"{command.name} is written in a form remediate cannot edit word by word (a "
                "multi-line, escaped or shell-quoted string): write it on one line or as a list",
                path=self.path,
                line=line(command.node),
            )
        return command.words

    def _replace(self, pairs: list[tuple[Word, str]]) -> None:
        lines = list(self._lines)
        for word, text in sorted(pairs, key=lambda p: (p[0].row, -p[0].start)):
            row = lines[word.row]
            lines[word.row] = row[: word.start] + text + row[word.end :]
        self._load("".join(lines))

    def _splice(self, row: int, start: int, end: int, text: str) -> None:
        lines = list(self._lines)
        lines[row] = lines[row][:start] + text + lines[row][end:]
        self._load("".join(lines))

    def _append(self, words: list[Word], new: list[str]) -> int:
        last, style = words[-1], words[0].style  # new items written as the command's first
        lines = list(self._lines)
        row = lines[last.row]
        if last.style == "shell":
            text = " " + " ".join(_render(word, "shell") for word in new)
            lines[last.row] = row[: last.end] + text + row[last.end :]
            self._load("".join(lines))
            return last.row + 1
        if row[last.end :].lstrip().startswith((",", "]")) or row[: last.start].rstrip()[-1:] in (
            ",",
            "[",
        ):
            text = "".join(", " + _render(word, style) for word in new)
            lines[last.row] = row[: last.end] + text + row[last.end :]
            self._load("".join(lines))
            return last.row + 1
        lead = row[: last.start]
        if lead.strip() != "-":
            raise ParseError("cannot place a new list item here", path=self.path, line=last.row + 1)
        ending = row[len(row.rstrip("\r\n")) :] or "\n"
        if not row.endswith(("\n", "\r")):
            lines[last.row] = row + ending
        added = [lead + _render(word, style) + ending for word in new]
        self._load("".join(lines[: last.row + 1] + added + lines[last.row + 1 :]))
        return last.row + 2

    def _verify(self, name: str, setting: str, value: Any) -> None:
        """The edit reads back as the template's value (else nothing is written)."""
        command = self._commands.get(name)
        now = command.doc.current(setting) if command else ABSENT
        if now is ABSENT or command is None or not command.doc.same(setting, now, value):
            raise ParseError(f"{name}: editing --{setting} did not read back", path=self.path)


def _split(key: str) -> tuple[str, str]:
    name, sep, setting = key.partition(":")
    if not sep or not setting or not name.endswith(".command"):
        raise ValueError(f"{key!r}: a compose-file setting is services.<name>.command:<setting>")
    return name, setting


def _option_args(setting: str, value: Any) -> list[str]:
    """The command-line words of one setting, as redis.conf would write its arguments."""
    doc = parse_redis(b"", "template")
    doc.set(setting, value)
    rows = [row for row in doc.dump().decode().splitlines() if row.strip()]
    if len(rows) != 1:
        raise ValueError(f"{setting}: a value of several lines cannot be one command option")
    return [token.value for token in split_args(rows[0])[1:]]


def _render(word: str, style: str) -> str:
    """``word`` written as a word of the command in ``style``."""
    if style == "shell":
        return word if _SAFE_WORD.fullmatch(word) else shlex.quote(word)
    if style == "'":
        return "'" + word.replace("'", "''") + "'"
    if style == '"' or not _SAFE_WORD.fullmatch(word) or not _plain_string(word):
        return json.dumps(word)
    return word


def _plain_string(word: str) -> bool:
    try:
        return isinstance(yaml.safe_load(word), str)
    except yaml.YAMLError:
        return False


def _as_written(value: str, style: str) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value)
    return value
