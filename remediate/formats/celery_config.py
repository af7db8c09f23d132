"""The lossless ``celery`` format: celeryconfig.py, Django settings and celery.py modules.

Python is parsed with libcst and never executed; ``dump()`` gives back every byte, and an edit
replaces only the value it changes. What counts as a setting:

* a *config module* (no ``Celery(...)`` app and no ``app.conf`` writes): unconditional
  top-level ``name = value`` / ``name: T = value`` assignments whose name is lower-case or
  upper-case and not private (chained ``a = b = 1`` sets both; ``if``/``try`` blocks, ``+=``
  and star imports are not followed);
* an *app module* (``app = Celery(...)`` or any ``app.conf`` write): only
  ``app.conf.update(key=value, ...)``, ``app.conf.update({'key': value})``,
  ``app.conf.key = value`` and ``app.conf['key'] = value``; its other variables are code.

The last definition wins. ``settings()`` names keys as the file spells them;
``managed_items()``/``current()``/``set()`` use Celery's new names (a template's names) and
resolve them to the file's own spelling (old upper-case, Django ``CELERY_`` namespace: see
:mod:`remediate.formats.celery_settings`). Dict settings (Celery type ``dict``) are managed one entry
at a time as ``broker_transport_options['socket_keepalive']``.

Appending: a missing setting goes to the one marked managed block at the end of the file, as
``name = value`` in a config module and ``app.conf.name = value`` in an app module, spelled in
the file's dominant style. An entry of a dict setting missing from an app module is written as
``app.conf.name = {**app.conf.name, 'entry': value}``: the module's settings may come from
``config_from_object`` (or the defaults), and a plain dict would replace all of their entries. A value naming a module the file does not import
(``socket.TCP_KEEPIDLE``) gets ``import socket`` right after the last top-level import that
precedes the first use; failing that, at the top of the managed block when every use is in
it; failing that, at the top of the module (after a docstring and ``__future__`` imports).
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from collections.abc import Iterable
from typing import Any

import libcst as cst

from remediate.errors import ParseError
from remediate.formats import celery_cst, celery_settings
from remediate.formats.base import ABSENT, Document, Edit
from remediate.formats.celery_cst import Definition, Entry
from remediate.formats.celery_values import (
    Code,
    bound_names,
    evaluate,
    flat_key,
    import_insertion_line,
    modules_named,
    preferred_quote,
    render,
    same_value,
    secrets_in,
    split_key,
    url_passwords,
)
from remediate.formats.lines import (
    ANY_LINE_ENDS,
    LineBuffer,
    duplicate_note,
    override_note,
    removed_note,
)

__all__ = ["CeleryDocument", "Code", "parse"]

_DICT_SETTINGS = frozenset().union(
    *(celery_settings.dict_settings(v) for v in celery_settings.VERSIONS)
)
_PLAUSIBLE = re.compile(r"^(?:[a-z][a-z0-9_]*|[A-Z][A-Z0-9_]*)$")


class CeleryDocument(Document):
    """A parsed celeryconfig.py / settings module / celery.py; edits keep every other byte."""

    kind = "celery"

    def __init__(
        self,
        module: cst.Module,
        path: str,
        data: bytes,
        tail: bytes = b"",
        tree: ast.Module | None = None,
    ) -> None:
        """``module`` is libcst's tree of ``data`` less its blank ``tail`` (see _lossless)."""
        self.path = path
        self.problems = []
        self._load(module, data, tail, tree)

    # ---------------------------------------------------------------- reading

    def _load(
        self, module: cst.Module, data: bytes, tail: bytes, tree: ast.Module | None = None
    ) -> None:
        """Index ``module`` (parsed from ``data``); ``ast`` gives lines and values fast."""
        self._module, self._data, self._tail = module, data, tail
        self._code = data.decode(module.encoding)
        self._tree = tree or ast.parse(data)
        found = celery_cst.find_definitions(module, self._tree)
        self.app_receiver: str | None = found.app_receiver
        self.is_app_module = found.is_app_module
        self._defs = [d for d in found.items if found.is_app_module or _PLAUSIBLE.match(d.key)]
        self._variables = found.variables
        self.style = celery_settings.detect_style(d.key for d in self._defs)
        self._file_quote: str | None = None
        self._values: dict[int, Any] = {}

    def _value(self, node: ast.expr) -> Any:
        if id(node) not in self._values:
            self._values[id(node)] = evaluate(node)
        return self._values[id(node)]

    def _name_of(self, key: str) -> str:
        return celery_settings.canonical(key, self.style) or key

    def _definitions_of(self, name: str) -> list[Definition]:
        return [d for d in self._defs if self._name_of(d.key) == name]

    def _effective(self, name: str) -> Definition | None:
        """The definition Celery reads: its spelling first (see celery_settings), then the last."""
        defs = self._definitions_of(name)
        if not defs:
            return None
        best = min(
            range(len(defs)),
            key=lambda i: (celery_settings.precedence(defs[i].key, name, self.style), -i),
        )
        return defs[best]

    def _entries(self, definition: Definition) -> list[Entry]:
        return list(celery_cst.entries(definition.node, definition.tree))

    def _entry(self, definition: Definition, key: Any) -> Entry | None:
        matches = [e for e in self._entries(definition) if same_value(self._value(e.key), key)]
        return matches[-1] if matches else None

    def dump(self) -> bytes:
        return self._data

    def settings(self) -> dict[str, Any]:
        """Key as the file spells it -> value (literal, container, or :class:`Code`)."""
        return {d.key: self._value(d.tree) for d in self._defs}

    def variable(self, name: str) -> Any:
        """The value of the module's last unconditional top-level ``name = ...`` (any name, a
        helper such as ``_url`` or, in an app module, a plain variable), or ABSENT."""
        for definition in reversed(self._variables):
            if definition.key == name:
                return self._value(definition.tree)
        return ABSENT

    def variable_lines(self) -> list[tuple[str, int]]:
        """(name, first line) of every top-level ``name = ...``, in file order."""
        return [(d.key, d.lines[0]) for d in self._variables]

    def loaded_names(self) -> frozenset[str]:
        """Names the module reads anywhere (``ast.Name`` in a load context)."""
        return frozenset(
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        )

    def config_sources(self) -> list[Any]:
        """The arguments of every ``<x>.config_from_object(arg)`` call (values, or Code)."""
        return [
            evaluate(node.args[0])
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "config_from_object"
            and node.args
        ]

    def key_lines(self) -> list[tuple[str, int]]:
        """Every definition in file order: (key as the file spells it, its first line)."""
        return [(d.key, d.lines[0]) for d in self._defs]

    def managed_items(self) -> Iterable[tuple[str, Any]]:
        """New names -> values; dict settings flattened to ``name['key']`` entries."""
        items: dict[str, Any] = {}
        for name in dict.fromkeys(self._name_of(d.key) for d in self._defs):
            definition = self._effective(name)
            assert definition is not None
            if name in _DICT_SETTINGS and isinstance(definition.node, cst.Dict):
                for entry in self._entries(definition):
                    items[flat_key(name, self._value(entry.key))] = self._value(entry.value)
            else:
                items[name] = self._value(definition.tree)
        return items.items()

    def _locate(self, key: str) -> tuple[Definition | None, Entry | None, bool]:
        """(effective definition, its entry for a flattened key, whether the key is one)."""
        name, sub, flat = split_key(key)
        definition = self._effective(self._name_of(name))
        entry = self._entry(definition, sub) if definition is not None and flat else None
        return definition, entry, flat

    def current(self, key: str) -> Any:
        definition, entry, flat = self._locate(key)
        if definition is None or (flat and entry is None):
            return ABSENT
        return self._value(entry.value if entry else definition.tree)

    def line_of(self, key: str) -> int | None:
        definition, entry, flat = self._locate(key)
        if definition is None or (flat and entry is None):
            return None
        return (entry or definition).lines[0]

    def same(self, key: str, a: Any, b: Any) -> bool:
        return same_value(a, b)

    def secrets(self) -> list[str]:
        """Passwords in URLs anywhere in the file, and values of password-like settings."""
        found: list[str] = []
        for key, value in self.settings().items():
            found.extend(s for s in secrets_in(key, value) if s not in found)
        for node in ast.walk(self._tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.extend(s for s in url_passwords(node.value) if s not in found)
        return found

    def spellings(self) -> list[str]:
        """The source text of every string literal holding a secret, line by line: escapes
        and implicit concatenation (``"a" "b"``) spell a secret otherwise than Python reads
        it, so a diff must be masked by these too."""
        found = self.secrets()
        spelled: list[str] = []
        for node in ast.walk(self._tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            source = ast.get_source_segment(self._code, node) or ""
            if any(secret in node.value and secret not in source for secret in found):
                spelled += [line.strip() for line in source.splitlines() if len(line.strip()) >= 4]
        return list(dict.fromkeys(spelled))

    # ---------------------------------------------------------------- editing

    def set(self, key: str, value: Any) -> Edit:
        name, sub, flat = split_key(key)
        name = self._name_of(name)
        defs = self._definitions_of(name)
        definition = self._effective(name)
        notes: list[str] = []
        if definition is not None and len(defs) > 1:
            notes.append(duplicate_note([d.lines[0] for d in defs], definition.lines[0]))
        entry_value = {sub: value} if flat else value
        if definition is None or definition.chained:
            if definition is not None:
                notes = [override_note(definition.lines[0], "sets it by a chained assignment")]
            # an app module's dict setting may come from config_from_object: keep its keys
            self._append(name, entry_value, flat and (definition is not None or self.is_app_module))
        elif not flat:
            self._replace(definition.node, self._render_like(definition.node, value))
        elif isinstance(definition.node, cst.Dict):
            entry = self._entry(definition, sub)
            quote = self._dict_quote(definition.node)
            if entry is None:
                new = celery_cst.insert_entry(
                    definition.node, render(sub, quote), render(value, quote)
                )
                self._replace(definition.node, new)
            else:
                self._replace(entry.element.value, self._render_like(entry.element.value, value))
        else:
            self._rewrite_as_dict(definition, sub, value)
            notes.append(
                f"the value on line {definition.lines[0]} was not a dict display: rewrote it as one"
            )
        notes.extend(self._ensure_imports(entry_value))
        located, entry, _ = self._locate(key)
        return Edit((entry or located).lines if located else None, "; ".join(notes))

    def remove(self, key: str) -> Edit | None:
        name, sub, flat = split_key(key)
        name = self._name_of(name)
        removed: list[int] = []
        comments: list[str] = []
        while True:
            defs = self._definitions_of(name)
            if flat:
                targets = [
                    (d, e)
                    for d in defs
                    for e in self._entries(d)
                    if same_value(self._value(e.key), sub)
                ]
                if not targets:
                    break
                entry = targets[-1][1]
                removed.append(entry.lines[0])
                comments[:0] = _comments_on(self._code, entry.lines)
                self._commit(celery_cst.remove_entry(self._module, entry.element))
            else:
                if not defs:
                    break
                last = defs[-1]
                removed.append(last.lines[0])
                comments[:0] = _comments_on(self._code, last.lines)
                self._commit(
                    celery_cst.remove_definition(
                        self._module, last.key, last.statement, last.element
                    )
                )
        if not removed:
            return None
        note = removed_note(removed)
        if comments:
            note += f" ({'its comment' if len(comments) == 1 else 'their comments'}: {'; '.join(comments)})"
        return Edit(None, note)

    def _render_like(self, old: cst.BaseExpression, value: Any) -> cst.BaseExpression:
        return cst.parse_expression(render(value, _quote_of(old) or self._quote_style()))

    def _dict_quote(self, node: cst.Dict) -> str:
        keys = [e.key for e in node.elements if isinstance(e, cst.DictElement)]
        return next((q for q in map(_quote_of, keys) if q), self._quote_style())

    def _quote_style(self) -> str:
        if self._file_quote is None:
            self._file_quote = preferred_quote(self._code)
        return self._file_quote

    def _indent_unit(self) -> str:
        for line, _ in self._lines().lines:
            match = re.match(r"^([ \t]+)\S", line)
            if match:
                spaces = match.group(1)
                return "\t" if spaces.startswith("\t") else " " * min(len(spaces), 8)
        return "    "

    def _rewrite_as_dict(self, definition: Definition, sub: Any, value: Any) -> None:
        """``name = OTHER`` -> ``{**OTHER, sub: value}``; a literal non-dict is replaced."""
        old = self._value(definition.tree)
        entries = render({sub: value}, self._quote_style())[1:-1]
        top_level = definition.statement is not None and definition.element is None
        if isinstance(old, Code):
            source = self._module.code_for_node(definition.node).strip()
            if not re.fullmatch(r"[\w.]+", source):
                source = f"({source})"
            parts = [f"**{source}", entries]
        else:
            parts = [entries]
        if top_level:
            unit = self._indent_unit()
            text = "{\n" + "".join(f"{unit}{part},\n" for part in parts) + "}"
        else:
            text = "{" + ", ".join(parts) + "}"
        self._replace(definition.node, cst.parse_expression(text))

    def _replace(self, old: cst.CSTNode, new: cst.CSTNode) -> None:
        self._commit(self._module.deep_replace(old, new))  # type: ignore[arg-type]

    def _commit(self, module: cst.Module) -> None:
        """Take an edited tree (no need to parse it again: its code is what it prints)."""
        self._load(module, module.bytes + self._tail, self._tail)

    def _commit_text(self, code: str) -> None:
        self._commit_bytes(code.encode(self._module.encoding))

    def _commit_bytes(self, data: bytes) -> None:
        tree = ast.parse(data)
        module, tail = _lossless(data, tree)
        self._load(module, data, tail, tree)

    def _statement_for(self, name: str, value: Any, override: bool) -> str:
        """``key = value`` (or ``app.conf.key = value``); ``override`` keeps the entries of
        a dict set by a chained assignment: ``key = {**key, 'entry': value}``."""
        key = celery_settings.spell(name, self.style)
        if self.is_app_module and self.app_receiver:
            key = f"{self.app_receiver}.conf.{key}"
        unit = self._indent_unit()
        if override:
            entries = render(value, self._quote_style())[1:-1]
            text = "{\n" + f"{unit}**{key},\n{unit}{entries},\n" + "}"
        else:
            text = render(value, self._quote_style(), indent=unit)
        return f"{key} = {text}"

    def _lines(self) -> LineBuffer:
        """The module's lines (Python ends a line at a lone CR too), to add whole lines."""
        return LineBuffer(self._code, ANY_LINE_ENDS)

    def _append(self, name: str, value: Any, override: bool) -> None:
        lines = self._lines()
        lines.add_managed(self._statement_for(name, value, override).split("\n"))
        self._commit_text(lines.text())

    def _ensure_imports(self, value: Any) -> list[str]:
        notes = []
        for root in sorted(modules_named(value)):
            if root in bound_names(self._tree) or hasattr(builtins, root):
                continue
            lines = self._lines()
            block = lines.managed_block()
            after = import_insertion_line(
                self._tree, root, block[0] if block else None, [body for body, _ in lines.lines]
            )
            lines.insert(after, [f"import {root}"])
            self._commit_text(lines.text())
            notes.append(f"added 'import {root}' on line {after + 1}")
        return notes


# ---------------------------------------------------------------- helpers


def _comments_on(code: str, lines: tuple[int, int]) -> list[str]:
    """The ``#`` comments that end lines ``lines`` (1-based, inclusive) of ``code``: a removed
    definition's comment goes into the note, since the line that held it is gone."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT and lines[0] <= token.start[0] <= lines[1]:
                found.append(token.string.strip())
            elif token.start[0] > lines[1]:
                break
    except (tokenize.TokenError, SyntaxError):  # parsed already: not expected
        pass
    return found


def _quote_of(node: cst.BaseExpression) -> str | None:
    """The quote character of a string literal node, else None."""
    if isinstance(node, cst.ConcatenatedString):
        return _quote_of(node.left)
    return node.quote[0] if isinstance(node, cst.SimpleString) else None


_BYTE_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lossless(data: bytes, tree: ast.Module) -> tuple[cst.Module, bytes]:
    """libcst's tree of ``data`` up to the end of its last statement's line, and the rest
    (blank lines and comments), which libcst does not always keep byte for byte and the
    document adds back; all of ``data`` when the cut would not parse. Returns (tree, tail)."""
    end = 0
    if tree.body:
        last_line = tree.body[-1].end_lineno or tree.body[-1].lineno
        end = sum(len(line) for line in _BYTE_LINE.findall(data)[:last_line])
    try:
        return cst.parse_module(data[:end]), data[end:]
    except cst.ParserSyntaxError:
        return cst.parse_module(data), b""


def _first_difference(a: bytes, b: bytes) -> int:
    index = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return a[:index].count(b"\n") + 1


def parse(data: bytes, path: str) -> CeleryDocument:
    """Parse a celeryconfig.py. Raises ParseError (path, line, reason) if it is not Python."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        line = getattr(error, "lineno", None)
        if line is None and b"\0" in data:
            line = data[: data.find(b"\0")].count(b"\n") + 1
        column = getattr(error, "offset", None) if isinstance(error, SyntaxError) else None
        reason = error.msg if isinstance(error, SyntaxError) else str(error) or "too deeply nested"
        raise ParseError(
            f"not valid Python: {reason}", path=path, line=line, column=column or None
        ) from None
    try:
        module, tail = _lossless(data, tree)
    except cst.ParserSyntaxError as error:
        raise ParseError(
            f"cannot parse this Python: {error.message}", path=path, line=error.raw_line
        ) from None
    except (SyntaxError, ValueError, RecursionError) as error:
        raise ParseError(f"cannot parse this Python: {error}", path=path, line=None) from None
    try:
        data.decode(module.encoding)
    except UnicodeDecodeError as error:
        raise ParseError(
            f"not valid {module.encoding} text: byte {data[error.start]:#04x}",
            path=path,
            line=data[: error.start].count(b"\n") + 1,
        ) from None
    kept = module.bytes + tail
    if kept != data:
        raise ParseError(
            "cannot keep this file byte for byte (a form feed before a statement, "
            "or unusual line endings?)",
            path=path,
            line=_first_difference(kept, data),
        )
    return CeleryDocument(module, path, data, tail, tree)
