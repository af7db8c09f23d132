"""/etc/default/* files and rabbitmq-env.conf: shell sourced by init scripts, byte for byte.

Settings are what the sourcing shell does unconditionally at the top level:
``KEY=value`` (also ``export KEY=value``; several on one line) and
``ulimit ... -n N`` (``-n`` sets soft and hard, ``-S -n`` / ``-Sn`` the soft,
``-H -n`` / ``-Hn`` the hard limit).  Everything else (if/fi blocks, functions,
other commands, commented-out lines such as ``# ulimit -n 65536``) is kept
verbatim and ignored.  An unterminated quote or substitution is a ParseError
with its line; syntax errors (a block never closed, a stray ``fi``) and CRLF
line ends are ``problems``, and nothing after a syntax error counts, since the
shell stops there; ``set`` refuses (ParseError) to append where the shell would
never run it.

    doc = parse(data, "/etc/default/rabbitmq-server")
    doc.settings()            -> {"NODENAME": "rabbit", "ulimit -n": "65536"}
    doc.effective_nofile()    -> ("65536", "65536")
    doc.set("ulimit -n", "65536"); doc.set("ERL_FLAGS", "+P 512000")  # keeps quoting style
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import ABSENT, Document, Edit, Problem
from remediate.formats.lines import (
    LineBuffer,
    decode_text,
    duplicate_note,
    override_note,
    removed_note,
)
from remediate.formats.shell_syntax import (
    NAME,
    Command,
    Word,
    is_double_quoted,
    is_single_quoted,
    split_commands,
    unquote,
)

#: the ulimit keys a template can manage, and which limits each one sets
ULIMIT_KEYS = {"ulimit -n": "both", "ulimit -Sn": "soft", "ulimit -Hn": "hard"}
_FLAVOUR_KEYS = {flavour: key for key, flavour in ULIMIT_KEYS.items()}
_FLAVOUR_OPTIONS = {"both": "-n", "soft": "-S -n", "hard": "-H -n"}
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_DECLARERS = ("export", "readonly")


@dataclass(frozen=True)
class ShellAssignment:
    """``NAME=value`` run at the top level."""

    name: str
    value: str  # after quote removal; expansions kept as written
    line: int
    command: Command
    word: Word


@dataclass(frozen=True)
class UlimitNofile:
    """A top-level ``ulimit`` that sets the open-file limit."""

    flavour: str  # "both", "soft" or "hard"
    value: str
    line: int
    command: Command
    option: Word  # the word holding the "n" option ("-n", "-Sn"...)
    argument: Word
    only_nofile: bool  # the command sets no other limit


def _is_option(word: Word) -> bool:
    value = unquote(word.raw)
    return value.startswith("-") and len(value) > 1 and not value[1:].isdigit()


def _ulimit_nofile(command: Command) -> UlimitNofile | None:
    """The open-file limit a ``ulimit`` command sets, read like bash's ulimit."""
    soft = hard = False  # -S and -H apply to the whole command
    resources: list[tuple[str, Word | None, Word | None]] = []  # letter, option, argument
    words = command.words[1:]
    i = 0
    while i < len(words):
        word = words[i]
        value = unquote(word.raw)
        if value == "--":
            pass
        elif _is_option(word):
            letters = value[1:]
            soft, hard = soft or "S" in letters, hard or "H" in letters
            found = [ch for ch in letters if ch not in "HS"]
            argument = None
            if found and i + 1 < len(words) and not _is_option(words[i + 1]):
                argument, i = words[i + 1], i + 1
            resources += [(ch, word, None) for ch in found[:-1]]
            resources += [(ch, word, argument) for ch in found[-1:]]
        elif resources and resources[-1][2] is None:
            resources[-1] = (resources[-1][0], resources[-1][1], word)  # "ulimit -n -S 100"
        elif not resources:
            resources.append(("f", None, word))  # a bare number sets the file size limit
        i += 1
    nofile = [
        (option, argument)
        for letter, option, argument in resources
        if letter == "n" and option is not None and argument is not None
    ]
    if not nofile:
        return None
    option, argument = nofile[-1]
    flavour = "both" if soft == hard else ("soft" if soft else "hard")
    return UlimitNofile(
        flavour,
        unquote(argument.raw),
        command.line,
        command,
        option,
        argument,
        all(letter == "n" for letter, _, _ in resources),
    )


def quote_like(value: str, old_raw: str) -> str:
    """``value`` as a shell word, in the quoting style of ``old_raw`` where it fits."""
    if is_single_quoted(old_raw) and "'" not in value:
        return f"'{value}'"
    if is_double_quoted(old_raw) or (value and not _BARE.fullmatch(value)):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


class ShellDocument(Document):
    kind = "shell"

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._buffer = LineBuffer(text)
        self._index()

    def _index(self) -> None:
        script = split_commands(self._buffer.text(), self.path)
        self.problems = script.problems
        self.stop_line = script.stop_line
        self._stop_reason = script.stop_reason
        self._dangling = script.dangling
        self.assignments: list[ShellAssignment] = []
        self.ulimits: list[UlimitNofile] = []
        for command in script.commands:
            if not command.top_level:
                continue
            words = command.words
            if words[0].raw in _DECLARERS:
                words = words[1:]
                if not all(NAME.fullmatch(w.raw) or _ASSIGNMENT.match(w.raw) for w in words):
                    continue
            elif not all(_ASSIGNMENT.match(w.raw) for w in words):
                found = _ulimit_nofile(command) if words[0].raw == "ulimit" else None
                if found is not None:
                    self.ulimits.append(found)
                continue
            for word in words:
                match = _ASSIGNMENT.match(word.raw)
                if match:
                    self.assignments.append(
                        ShellAssignment(
                            match.group(1),
                            unquote(word.raw[match.end() :]),
                            command.line,
                            command,
                            word,
                        )
                    )
        for number, line in enumerate(self._buffer.lines, start=1):
            if line.ending == "\r\n":
                self.problems.append(
                    Problem(
                        number,
                        len(line.body) + 1,
                        "CRLF line end: the shell reads the CR as part of "
                        "the line (values end in CR, ulimit rejects it)",
                    )
                )
                break

    # -- reading -----------------------------------------------------------------

    def dump(self) -> bytes:
        return self._buffer.encode()

    def settings(self) -> dict[str, Any]:
        """``KEY`` -> unquoted value (last wins); ``"ulimit -n"`` -> the last open-file
        limit any top-level ulimit sets."""
        found: dict[str, Any] = {a.name: a.value for a in self.assignments}
        if self.ulimits:
            found["ulimit -n"] = self.ulimits[-1].value
        return found

    def managed_items(self) -> list[tuple[str, Any]]:
        """Assignments, and the open-file limit per kind of ulimit line: "ulimit -n"
        (soft and hard), "ulimit -Sn", "ulimit -Hn"."""
        found = [(a.word.start, a.name, a.value) for a in self.assignments]
        found += [(u.argument.start, _FLAVOUR_KEYS[u.flavour], u.value) for u in self.ulimits]
        items: dict[str, Any] = {}
        for _, key, value in sorted(found, key=lambda item: item[0]):  # in file order
            items[key] = value
        return list(items.items())

    def effective_nofile(self) -> tuple[Any, Any]:
        """(soft, hard) open-file limit the file leaves the shell with; ABSENT if unset."""
        soft: Any = ABSENT
        hard: Any = ABSENT
        for ulimit in self.ulimits:
            if ulimit.flavour in ("both", "soft"):
                soft = ulimit.value
            if ulimit.flavour in ("both", "hard"):
                hard = ulimit.value
        return soft, hard

    def current(self, key: str) -> Any:
        if key not in ULIMIT_KEYS:
            return {a.name: a.value for a in self.assignments}.get(key, ABSENT)
        soft, hard = self.effective_nofile()
        flavour = ULIMIT_KEYS[key]
        if flavour == "soft":
            return soft
        if flavour == "hard":
            return hard
        if soft is ABSENT and hard is ABSENT:
            return ABSENT
        if soft == hard:
            return soft
        return f"soft {'unset' if soft is ABSENT else soft}, hard {'unset' if hard is ABSENT else hard}"

    def line_of(self, key: str) -> int | None:
        if key in ULIMIT_KEYS:
            found = [
                u.line for u in self.ulimits if key == "ulimit -n" or u.flavour == ULIMIT_KEYS[key]
            ]
        else:
            found = [a.line for a in self.assignments if a.name == key]
        return found[-1] if found else None

    # -- editing -----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        """Edit the deciding definition in place (value bytes only, quoting style kept);
        else append ``KEY=value`` or ``ulimit -n N`` to the managed block."""
        text = str(value)
        if "\n" in text or "\r" in text or "\0" in text:
            raise ValueError(f"not a one-line shell value: {value!r}")
        if key in ULIMIT_KEYS:
            return self._set_ulimit(ULIMIT_KEYS[key], text)
        if not NAME.fullmatch(key):
            raise ValueError(
                f"a shell key is a variable name or one of {', '.join(ULIMIT_KEYS)}, not {key!r}"
            )
        found = [a for a in self.assignments if a.name == key]
        if not found:
            self._check_appendable(key)
            first, _ = self._buffer.add_managed([f"{key}={quote_like(text, '')}"])
            self._index()
            return Edit((first, first))
        target = found[-1]
        start = target.word.start + len(key) + 1
        self._buffer.splice(
            start, target.word.end, quote_like(text, target.word.raw[len(key) + 1 :])
        )
        self._index()
        return Edit(
            (target.line, target.line), duplicate_note([a.line for a in found], target.line)
        )

    def _set_ulimit(self, flavour: str, text: str) -> Edit:
        deciding = [u for u in self.ulimits if flavour == "both" or u.flavour in (flavour, "both")]
        if deciding and deciding[-1].flavour == flavour:
            target = deciding[-1]
            self._buffer.splice(target.argument.start, target.argument.end, quote_like(text, ""))
            self._index()
            same = [u.line for u in deciding if u.flavour == flavour]
            return Edit((target.line, target.line), duplicate_note(same, target.line))
        note = ""
        if deciding:
            note = override_note(
                deciding[-1].line, f"sets the {deciding[-1].flavour} open-file limit"
            )
        self._check_appendable(_FLAVOUR_KEYS[flavour])
        line = f"ulimit {_FLAVOUR_OPTIONS[flavour]} {quote_like(text, '')}"
        first, _ = self._buffer.add_managed([line])
        self._index()
        return Edit((first, first), note)

    def _check_appendable(self, key: str) -> None:
        """Refuse to append where the shell never gets (after a syntax error); end a
        trailing backslash continuation with a blank line so it cannot swallow ours."""
        if self.stop_line is not None:
            raise ParseError(
                f"cannot add {key}: {self._stop_reason}, so a setting appended "
                f"at the end would never run",
                path=self.path,
                line=self.stop_line,
            )
        if self._dangling:
            before = self._buffer.text()
            self._buffer.insert(len(self._buffer.lines), [""])
            self._index()
            if self.stop_line is not None:
                self._buffer = LineBuffer(before)
                self._index()
                raise ParseError(
                    f"cannot add {key}: the file ends in a backslash that joins "
                    f"the next line to this one, and this line cannot end there",
                    path=self.path,
                    line=len(self._buffer.lines),
                )

    def remove(self, key: str) -> Edit | None:
        """Remove every top-level definition of ``key``; a command that did nothing else
        goes (its lines, or ``:`` in its place when it shares a line)."""
        if key in ULIMIT_KEYS:
            ulimits = [
                u for u in self.ulimits if key == "ulimit -n" or u.flavour == ULIMIT_KEYS[key]
            ]
            lines = [u.line for u in ulimits]
            for ulimit in sorted(ulimits, key=lambda u: -u.option.start):
                self._remove_ulimit(ulimit)
        else:
            assignments = [a for a in self.assignments if a.name == key]
            lines = [a.line for a in assignments]
            for assignment in sorted(assignments, key=lambda a: -a.word.start):
                words = [w for w in assignment.command.words if w.raw not in _DECLARERS]
                if len(words) == 1:
                    self._remove_command(assignment.command)
                else:
                    self._remove_words([assignment.word])
        if not lines:
            return None
        self._index()
        return Edit(None, removed_note(lines))

    def _remove_ulimit(self, ulimit: UlimitNofile) -> None:
        if ulimit.only_nofile:
            self._remove_command(ulimit.command)
            return
        letters = unquote(ulimit.option.raw)[1:].replace("n", "", 1)
        if letters.strip("HS"):
            raise ValueError(
                f"line {ulimit.line}: the open-file limit shares its option word "
                f"with other limits; edit that line by hand"
            )
        if letters:
            self._remove_words([ulimit.argument])
            self._buffer.splice(ulimit.option.start, ulimit.option.end, f"-{letters}")
        else:
            self._remove_words([ulimit.option, ulimit.argument])

    def _remove_words(self, words: list[Word]) -> None:
        text = self._buffer.text()
        for word in sorted(words, key=lambda w: -w.start):
            end = word.end
            while end < len(text) and text[end] in " \t":
                end += 1
            self._buffer.splice(word.start, end, "")
            text = self._buffer.text()

    def _remove_command(self, command: Command) -> None:
        start, end = command.words[0].start, command.words[-1].end
        if command.alone:
            last = self._buffer.text().count("\n", 0, end)
            self._buffer.delete(range(command.line - 1, last + 1))
        else:
            self._buffer.splice(start, end, ":")


def parse(data: bytes, path: str) -> ShellDocument:
    """Parse a sourced shell file; ParseError (path, line) for an unterminated quote."""
    return ShellDocument(decode_text(data, path), path)
