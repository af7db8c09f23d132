"""Helm values files as a managed file kind (``kind: helm-values``): the redis.conf and
rabbitmq.conf text the common charts embed, read and edited with the lossless redis and
rabbitmq formats; every byte of the YAML outside the edited lines stays as it was.

Embedded documents, by their place in the values (also under a subchart key ``redis:`` or
``rabbitmq:`` of an umbrella chart, as ``redis.master.configuration``):

* bitnami/redis: ``commonConfiguration`` (redis.conf), ``master.configuration``,
  ``replica.configuration`` (redis.conf of each role), ``sentinel.configuration``;
* bitnami/rabbitmq: ``configuration`` (rabbitmq.conf) and ``extraConfiguration``.

Settings are named ``<document>:<setting>`` (``master.configuration:timeout``). A template is a
values file of the same shape naming the documents it manages::

    master:
      configuration: |
        timeout 0
        tcp-keepalive 60

Only literal blocks (``|``, ``|-``, ``|+``) are edited, in place, with their indentation; a
document the file lacks is added as a ``|`` block at the end of its parent mapping. Lines
holding a Helm tag (``{{ ... }}``) are read as comments: no setting is judged or edited there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import ABSENT, Document, Edit, Problem
from remediate.formats.yaml_blocks import (
    LiteralBlock,
    literal_block,
    mapping_end,
    new_block_lines,
)
from remediate.formats.yaml_nodes import Node, child, is_mapping, items, line, load_documents

KIND = "helm-values"
#: document name -> (embedded kind, redis flavor)
DOCUMENTS: dict[str, tuple[str, str | None]] = {
    "commonConfiguration": ("redis", "server"),
    "master.configuration": ("redis", "server"),
    "replica.configuration": ("redis", "server"),
    "sentinel.configuration": ("redis", "sentinel"),
    "configuration": ("rabbitmq", None),
    "extraConfiguration": ("rabbitmq", None),
}
SUBCHARTS = ("redis", "rabbitmq")


def parse(data: bytes, path: str) -> HelmValuesDocument:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    return HelmValuesDocument(text, path)


def document_names() -> list[str]:
    return list(DOCUMENTS) + [f"{sub}.{name}" for sub in SUBCHARTS for name in DOCUMENTS]


def embedded_kind(name: str) -> tuple[str, str | None]:
    base = name.split(".", 1)[1] if name.split(".", 1)[0] in SUBCHARTS else name
    if base not in DOCUMENTS:
        raise ValueError(f"{name!r} is not an embedded document ({', '.join(DOCUMENTS)})")
    return DOCUMENTS[base]


def parse_embedded(name: str, text: str, path: str) -> Document:
    from remediate.formats import parse as parse_kind
    from remediate.formats.redis_conf import parse as parse_redis

    kind, flavor = embedded_kind(name)
    data = text.encode("utf-8", "surrogateescape")
    virtual = f"{path}#{name}"
    return parse_redis(data, virtual, flavor=flavor) if flavor else parse_kind(kind, data, virtual)


@dataclass
class Embedded:
    """One embedded document of the file: its node, lines and parsed config."""

    name: str
    node: Node
    block: LiteralBlock | None  # None: not a literal block (read only)
    doc: Document
    source: str  # the text ``doc`` was parsed from

    def manifest_line(self, line_no: int | None) -> int | None:
        if line_no is None:
            return None
        if self.block is None:
            return line(self.node)
        return self.block.start + line_no


class HelmValuesDocument(Document):
    kind = KIND

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._load(text)

    def _load(self, text: str) -> None:
        self._text = text
        self._lines = text.splitlines(keepends=True)
        docs = load_documents(text, self.path)
        if len(docs) > 1 or (docs and not is_mapping(docs[0])):
            raise ParseError("a Helm values file is one YAML mapping", path=self.path, line=1)
        self._root: Node | None = docs[0] if docs else None
        self._embedded: dict[str, Embedded] = {}
        self.problems = []
        for name in document_names():
            found = self._node(name)
            if found is None:
                continue
            node, key_column = found
            block = literal_block(self._lines, node, key_column)
            source = block.parse_text() if block else str(node.value)
            piece = Embedded(name, node, block, parse_embedded(name, source, self.path), source)
            self._embedded[name] = piece
            for bad in piece.doc.problems:
                where = piece.manifest_line(bad.line) or line(node)
                self.problems.append(Problem(where, bad.column, f"{name}: {bad.reason}"))

    def _node(self, name: str) -> tuple[Node, int] | None:
        """The string node of document ``name`` and its key's 0-based column."""
        *parents, last = name.split(".")
        parent = child(self._root, *parents) if parents else self._root
        found = None
        for key, key_node, value in items(parent):
            if key == last:
                found = (value, int(key_node.start_mark.column))
        if found is None or not str(found[0].tag).endswith(":str"):
            return None
        return found

    # --- reading ----------------------------------------------------------------

    def dump(self) -> bytes:
        return self._text.encode("utf-8")

    def embedded(self) -> dict[str, Embedded]:
        return dict(self._embedded)

    def settings(self) -> dict[str, Any]:
        return {
            f"{name}:{key}": value
            for name, piece in self._embedded.items()
            for key, value in piece.doc.settings().items()
        }

    def managed_items(self) -> Iterator[tuple[str, Any]]:
        for name, piece in self._embedded.items():
            for key, value in piece.doc.managed_items():
                yield f"{name}:{key}", value

    def current(self, key: str) -> Any:
        name, setting = _split(key)
        piece = self._embedded.get(name)
        return piece.doc.current(setting) if piece else ABSENT

    def line_of(self, key: str) -> int | None:
        name, setting = _split(key)
        piece = self._embedded.get(name)
        return piece.manifest_line(piece.doc.line_of(setting)) if piece else None

    def same(self, key: str, a: Any, b: Any) -> bool:
        name, setting = _split(key)
        piece = self._embedded.get(name)
        doc = piece.doc if piece else parse_embedded(name, "", self.path)
        return doc.same(setting, a, b)

    def secrets(self) -> list[str]:
        found: list[str] = []
        for piece in self._embedded.values():
            secrets = getattr(piece.doc, "secrets", None)
            if callable(secrets):
                found += secrets()
        return found

    def rule_documents(self) -> list[tuple[Document, tuple[int, ...], tuple[int, ...]]]:
        """The documents the rules judge, each with the file line and column offset of each of
        its lines. As the charts run them: a bitnami/redis server reads commonConfiguration,
        then its own (``redis-server --include redis.conf --include master.conf``), and the
        rabbitmq chart renders extraConfiguration into configuration."""
        out = []
        for prefix in ("", *(sub + "." for sub in SUBCHARTS)):
            common = self._embedded.get(prefix + "commonConfiguration")
            servers = [
                self._embedded[prefix + role + ".configuration"]
                for role in ("master", "replica")
                if prefix + role + ".configuration" in self._embedded
            ]
            groups = [[common, server] if common else [server] for server in servers]
            if common and not servers:
                groups.append([common])
            sentinel = self._embedded.get(prefix + "sentinel.configuration")
            rabbit = [
                self._embedded[prefix + name]
                for name in ("configuration", "extraConfiguration")
                if prefix + name in self._embedded
            ]
            groups += [[sentinel]] if sentinel else []
            groups += [rabbit] if rabbit else []
            out += [self._joined(group) for group in groups]
        return out

    def _joined(self, pieces: list[Embedded]) -> tuple[Document, tuple[int, ...], tuple[int, ...]]:
        text, lines, columns = "", [], []
        for piece in pieces:
            own = piece.source if piece.source.endswith("\n") or not piece.source else ""
            own = own or piece.source + "\n"
            count = len(own.splitlines())
            text += own
            lines += [piece.manifest_line(k + 1) or 1 for k in range(count)]
            columns += [piece.block.indent if piece.block else 0] * count
        return parse_embedded(pieces[-1].name, text, self.path), tuple(lines), tuple(columns)

    # --- editing ----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        name, setting = _split(key)
        piece = self._embedded.get(name)
        if piece is None:
            return self._add_document(name, setting, value)
        block = self._editable(piece)
        new_doc = parse_embedded(name, piece.source, self.path)
        edit = new_doc.set(setting, value)
        self._splice(block, piece.source, new_doc.dump().decode("utf-8", "surrogateescape"))
        lines = (block.start + edit.lines[0], block.start + edit.lines[1]) if edit.lines else None
        return Edit(lines, edit.note)

    def remove(self, key: str) -> Edit | None:
        name, setting = _split(key)
        piece = self._embedded.get(name)
        if piece is None or piece.doc.current(setting) is ABSENT:
            return None
        block = self._editable(piece)
        new_doc = parse_embedded(name, piece.source, self.path)
        edit = new_doc.remove(setting)
        self._splice(block, piece.source, new_doc.dump().decode("utf-8", "surrogateescape"))
        return edit

    def _editable(self, piece: Embedded) -> LiteralBlock:
        if piece.block is None:
            raise ParseError(
                f"{piece.name} is not a literal block scalar: remediate edits the embedded "
                f"text only in a `|` block (write it as `{piece.name.rsplit('.', 1)[-1]}: |`)",
                path=self.path,
                line=line(piece.node),
            )
        return piece.block

    def _splice(self, block: LiteralBlock, old: str, new: str) -> None:
        self._load("".join(block.replaced(self._lines, old, new)))

    def _add_document(self, name: str, setting: str, value: Any) -> Edit:
        """A new ``|`` block holding ``setting`` at the end of the deepest mapping the file
        already has on the way to ``name``."""
        new_doc = parse_embedded(name, "", self.path)
        edit = new_doc.set(setting, value)
        keys = name.split(".")
        parent, depth = self._root, 0
        while depth < len(keys) - 1 and is_mapping(child(parent, keys[depth])):
            parent, depth = child(parent, keys[depth]), depth + 1
        if parent is not None and child(parent, keys[depth]) is not None:
            raise ParseError(
                f"cannot add {name}: {'.'.join(keys[: depth + 1])} is not a mapping",
                path=self.path,
                line=line(child(parent, keys[depth])),
            )
        if parent is not None and parent.flow_style:
            raise ParseError(
                f"cannot add {name} into a flow mapping ({{...}})",
                path=self.path,
                line=line(parent),
            )
        entries = list(items(parent))
        indent = int(entries[0][1].start_mark.column) if entries else 0
        at = mapping_end(self._lines, parent) if entries else len(self._lines)
        lines = list(self._lines)
        ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        if at and not lines[at - 1].endswith(("\n", "\r")):
            lines[at - 1] += ending
        text = new_doc.dump().decode("utf-8", "surrogateescape")
        added = new_block_lines(keys[depth:], indent, text, ending)
        self._load("".join(lines[:at] + added + lines[at:]))
        first = at + len(added) - len(text.splitlines()) + 1
        if edit.lines is None:
            return Edit(None, edit.note)
        return Edit((first + edit.lines[0] - 1, first + edit.lines[1] - 1), edit.note)


def _split(key: str) -> tuple[str, str]:
    name, sep, setting = key.partition(":")
    if not sep or not setting:
        raise ValueError(f"{key!r}: a helm-values setting is <document>:<setting>")
    embedded_kind(name)
    return name, setting
