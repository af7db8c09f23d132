"""Just enough POSIX shell syntax to read /etc/default files without running them.

``split_commands(text, path)`` cuts a sourced shell file into simple commands
(words with their offsets) the way sh would tokenize it: blanks and operators
separate words; single quotes, double quotes, backslashes, ``$(...)``,
``${...}``, ``$'...'`` and backquotes hold a word together, even across lines;
``#`` at the start of a word begins a comment; here-document bodies are skipped.
A quote or substitution that never closes is a ParseError naming its line.
Compound commands (``if``/``case``/loops/``{ }``/subshells/functions) are
followed so that a command is marked ``top_level`` only when the sourcing
shell runs it unconditionally; blocks that never close are reported as
problems.  ``unquote`` gives a word's value after quote removal (expansions
such as ``$VAR`` are kept as written, never expanded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from remediate.errors import ParseError
from remediate.formats.base import Problem

_OPERATORS = (
    ";;",
    "&&",
    "||",
    "<<-",
    "<<",
    ">>",
    "<&",
    ">&",
    "<>",
    ">|",
    ";",
    "&",
    "|",
    "(",
    ")",
    "<",
    ">",
)
_REDIRECTS = frozenset({"<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"})
_SEPARATORS = frozenset({"\n", ";", ";;", "&", "|", "&&", "||", "(", ")"})
_OPENERS = {
    "if": "fi",
    "while": "done",
    "until": "done",
    "for": "done",
    "select": "done",
    "case": "esac",
    "{": "}",
    "(": ")",
}
_CLOSERS = frozenset({"fi", "done", "esac", "}"})
_PREFIXES = frozenset({"then", "do", "else", "elif", "!"})
_UNCONDITIONAL_BEFORE = frozenset({"", "\n", ";", ";;", "&"})
_BREAKS = frozenset(" \t\n;&|()<>")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Word:
    """One shell word as written, with its offsets in the file's text."""

    raw: str
    start: int
    end: int


@dataclass(frozen=True)
class Command:
    """A simple command: its words (redirections left out) and how it is run."""

    words: tuple[Word, ...]
    line: int  # 1-based line of the first word
    top_level: bool  # run unconditionally by the shell that sources the file
    before: str  # the operator before it ("" at the start of the file)
    after: str  # the operator after it ("" at the end of the file)
    alone: bool  # nothing else but blanks and a comment on its lines


class _Scanner:
    """Finds where quoted parts and substitutions end; ParseError when they never do."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path

    def fail(self, what: str, start: int) -> ParseError:
        line = self.text.count("\n", 0, start) + 1
        return ParseError(
            f"unterminated {what}: the shell cannot source the file", path=self.path, line=line
        )

    def word_end(self, i: int) -> int:
        text, n = self.text, len(self.text)
        while i < n:
            c = text[i]
            if c in _BREAKS or (c == "\r" and text.startswith("\n", i + 1)):
                return i
            i = self.part_end(i)
        return i

    def part_end(self, i: int) -> int:
        """End of the word part starting at ``i`` (one char, an escape, a quoted part...)."""
        text = self.text
        c, following = text[i], text[i + 1 : i + 2]
        if c == "\\":
            return min(i + 2, len(text))
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise self.fail("single quote", i)
            return end + 1
        if c == '"':
            return self.double_end(i)
        if c == "`":
            return self.delimited_end(i, "`", "backquote")
        if c == "$" and following == "'":
            return self.delimited_end(i + 1, "'", "$'...' quote")
        if c == "$" and following in ("(", "{"):
            return self.nested_end(i + 1)
        return i + 1

    def double_end(self, start: int) -> int:
        text, i = self.text, start + 1
        while i < len(text):
            c, following = text[i], text[i + 1 : i + 2]
            if c == '"':
                return i + 1
            if c == "\\":
                i += 2
            elif c == "`" or (c == "$" and following in ("(", "{")):
                i = self.part_end(i)
            else:
                i += 1
        raise self.fail("double quote", start)

    def delimited_end(self, start: int, close: str, what: str) -> int:
        text, i = self.text, start + 1
        while i < len(text):
            if text[i] == "\\":
                i += 2
            elif text[i] == close:
                return i + 1
            else:
                i += 1
        raise self.fail(what, start)

    def nested_end(self, start: int) -> int:
        """End of ``(...)`` or ``{...}`` opened at ``start``, quotes inside respected."""
        text, opening = self.text, self.text[start]
        closing = ")" if opening == "(" else "}"
        depth, i = 1, start + 1
        while i < len(text):
            c = text[i]
            if c == opening:
                depth, i = depth + 1, i + 1
            elif c == closing:
                depth, i = depth - 1, i + 1
                if depth == 0:
                    return i
            elif c in "\\'\"`$":
                i = self.part_end(i)
            else:
                i += 1
        raise self.fail("$(...)" if opening == "(" else "${...}", start - 1)


def unquote(raw: str) -> str:
    """A word's value after quote removal; expansions stay as written."""
    scanner = _Scanner(raw, "")
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        end = scanner.part_end(i)
        if c == "\\":
            out.append("" if raw[i + 1 : end] == "\n" else raw[i + 1 : end])
        elif c == "'":
            out.append(raw[i + 1 : end - 1])
        elif c == '"':
            out.append(
                re.sub(
                    r'\\([$`"\\\n])',
                    lambda m: "" if m.group(1) == "\n" else m.group(1),
                    raw[i + 1 : end - 1],
                )
            )
        else:
            out.append(raw[i:end])
        i = end
    return "".join(out)


def is_single_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == "'" and raw.find("'", 1) == len(raw) - 1


def is_double_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == '"' and _Scanner(raw, "").double_end(0) == len(raw)


@dataclass(frozen=True)
class _Tokens:
    items: list[Word | tuple[str, int]]  # words, and (operator, offset) with "\n" included
    dangling: bool  # the text ends inside a backslash line continuation
    open_heredoc: int | None  # line of a here-document that runs to the end of the text


def _tokens(text: str, path: str) -> _Tokens:
    """Words and operators; comments and here-document bodies dropped."""
    scanner = _Scanner(text, path)
    dangling = False
    open_heredoc: int | None = None
    tokens: list[Word | tuple[str, int]] = []
    heredocs: list[tuple[str, bool, int]] = []  # delimiter, strip tabs, line
    expect_delimiter: bool | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        dangling = False
        if c in " \t" or (c == "\r" and text.startswith("\n", i + 1)):
            i += 1
        elif c == "\\" and text.startswith("\n", i + 1):
            i += 2
            dangling = i == n
        elif c == "\n":
            tokens.append(("\n", i))
            expect_delimiter = None  # "<<" without a word: a syntax error, not a here-document
            i += 1
            for delimiter, strip_tabs, line in heredocs:
                i, closed = _heredoc_end(text, i, delimiter, strip_tabs)
                if not closed and open_heredoc is None:
                    open_heredoc = line
            heredocs = []
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in ";&|()<>":
            op = next(o for o in _OPERATORS if text.startswith(o, i))
            tokens.append((op, i))
            i += len(op)
            expect_delimiter = op == "<<-" if op in ("<<", "<<-") else None
        else:
            end = scanner.word_end(i)
            tokens.append(Word(text[i:end], i, end))
            raw = text[i:end].removesuffix("\n")
            dangling = end == n and (len(raw) - len(raw.rstrip("\\"))) % 2 == 1
            if expect_delimiter is not None:
                heredocs.append(
                    (unquote(text[i:end]), expect_delimiter, text.count("\n", 0, i) + 1)
                )
                expect_delimiter = None
            i = end
    if heredocs and open_heredoc is None:
        open_heredoc = heredocs[0][2]
    return _Tokens(tokens, dangling, open_heredoc)


def _heredoc_end(text: str, i: int, delimiter: str, strip_tabs: bool) -> tuple[int, bool]:
    """Offset just past the line that closes a here-document, and whether one did
    (else the body runs to the end of the text)."""
    while i < len(text):
        end = text.find("\n", i)
        end = len(text) if end < 0 else end
        line = text[i:end].removesuffix("\r")
        if (line.lstrip("\t") if strip_tabs else line) == delimiter:
            return min(end + 1, len(text)), True
        i = end + 1
    return len(text), False


@dataclass(frozen=True)
class Script:
    """A sourced file cut into simple commands."""

    commands: list[Command]
    problems: list[Problem]
    #: the line after which the shell runs nothing more of the file, if any, and why
    stop_line: int | None
    stop_reason: str
    #: the file ends in a backslash line continuation: the next line would join it
    dangling: bool


def split_commands(text: str, path: str) -> Script:
    """The file's simple commands, problems with its compound commands, and where a
    syntax error (a stray closing word, a block never closed) stops the shell."""
    lexed = _tokens(text, path)
    commands: list[Command] = []
    problems: list[Problem] = []
    stack: list[tuple[str, int]] = []  # opener, line
    words: list[Word] = []
    before = ""
    lone_parens = 0  # "name()" of a function definition: its ")" closes nothing
    redirect_target = False
    stray: list[int] = []  # lines of closing words that close nothing

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def finish(after: str) -> None:
        nonlocal words
        found, words = words, []
        while found:
            first, line = found[0].raw, line_of(found[0].start)
            if first in _OPENERS and first != "(":
                stack.append((first, line))
                found = [] if first in ("for", "select", "case") else found[1:]
            elif first in _PREFIXES:
                found = found[1:]
            elif first in _CLOSERS:
                if stack and _OPENERS[stack[-1][0]] == first:
                    stack.pop()
                else:
                    unexpected(first, line)
                found = found[1:]
            elif first == "function":
                if any(w.raw == "{" for w in found[1:]):
                    stack.append(("{", line))
                found = []
            else:
                break
        if found:
            top = (
                not stack
                and not stray
                and before in _UNCONDITIONAL_BEFORE
                and after not in ("|", "&")
            )
            commands.append(
                Command(
                    tuple(found),
                    line_of(found[0].start),
                    top,
                    before,
                    after,
                    _alone(text, found[0].start, found[-1].end),
                )
            )

    def unexpected(token: str, line: int) -> None:
        stray.append(line)
        problems.append(
            Problem(
                line,
                1,
                f"unexpected {token!r}: the shell stops reading the file here with a syntax error",
            )
        )

    for token in lexed.items:
        if isinstance(token, Word):
            if redirect_target:
                redirect_target = False
            else:
                words.append(token)
            continue
        op, offset = token
        if op in _REDIRECTS:
            if words and words[-1].raw.isdigit() and words[-1].end == offset:
                words.pop()  # the "2" of "2>/dev/null"
            redirect_target = True
            continue
        if redirect_target:
            unexpected("newline" if op == "\n" else op, line_of(offset))
        redirect_target = False
        if op == "(" and words:
            words, lone_parens = [], lone_parens + 1  # "name()" starts a function definition
        elif op == "(":
            stack.append(("(", line_of(offset)))
        elif op == ")":
            finish(op)
            if lone_parens:
                lone_parens -= 1
            elif stack and stack[-1][0] == "(":
                stack.pop()
            elif not stack or stack[-1][0] != "case":  # in a case, ")" ends a pattern
                unexpected(")", line_of(offset))
        if op != ")" and op in _SEPARATORS:
            finish(op)
        before = op
    if redirect_target:
        unexpected("end of file", line_of(len(text)))
    finish("")
    for opener, line in stack:
        problems.append(
            Problem(
                line,
                1,
                f"'{opener}' is never closed with "
                f"'{_OPENERS[opener]}': the shell stops reading the "
                f"file here with a syntax error",
            )
        )
    stops = [
        (line, "the shell stops reading the file at this line with a syntax error")
        for line in stray[:1] + [line for _, line in stack[:1]]
    ]
    if lexed.open_heredoc is not None:
        reason = "the here-document opened on this line runs to the end of the file"
        stops.append((lexed.open_heredoc, reason))
    stop = min(stops) if stops else (None, "")
    return Script(commands, problems, stop[0], stop[1], lexed.dangling)


def _alone(text: str, start: int, end: int) -> bool:
    """Whether only blanks precede ``start`` on its line and only blanks or a comment
    follow ``end`` on its line."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    rest = text[end : len(text) if line_end < 0 else line_end].strip(" \t\r")
    return not text[line_start:start].strip(" \t") and (rest == "" or rest.startswith("#"))
