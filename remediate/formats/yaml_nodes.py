"""YAML as PyYAML's node tree, which keeps the line and column of every key and value: the
reading helpers the manifest formats (``helm_values``, ``compose_file``) and lint's manifest
readers (``remediate.lint.manifests``) share.

    docs = load_documents(text, "values.yaml")        # raises ParseError naming the line
    node = child(docs[0], "master", "configuration")
    line(node), column(node), scalar(node)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

import yaml

from remediate.errors import ParseError

Node: TypeAlias = Any  # a yaml.Node (PyYAML ships no type hints)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(text: str, path: str) -> list[Node]:
    """Every document of a (multi-document) YAML file as nodes; empty documents skipped."""
    try:
        return [doc for doc in yaml.compose_all(text, Loader=_LOADER) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ParseError(
            f"invalid YAML: {exc.problem or exc.context or 'syntax error'}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", path=path) from None


def is_mapping(node: Node | None) -> bool:
    return isinstance(node, yaml.MappingNode)


def is_sequence(node: Node | None) -> bool:
    return isinstance(node, yaml.SequenceNode)


def scalar(node: Node | None) -> str | None:
    """The text of a scalar node (None for anything else, and for YAML null)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:null" or (
        node.style in (None, "") and node.value in ("", "~", "null", "Null", "NULL")
    ):
        return None
    return str(node.value)


def items(node: Node | None) -> Iterator[tuple[str, Node, Node]]:
    """(key text, key node, value node) of a mapping, in file order (merge keys ignored)."""
    if node is None or not is_mapping(node):
        return
    for key_node, value_node in node.value:
        key = scalar(key_node)
        if key is not None:
            yield key, key_node, value_node


def elements(node: Node | None) -> list[Node]:
    return list(node.value) if node is not None and is_sequence(node) else []


def child(node: Node | None, *keys: str) -> Node | None:
    """The value under ``keys`` (the last occurrence of each key wins), or None."""
    for key in keys:
        found = None
        for name, _, value in items(node):
            if name == key:
                found = value
        if found is None:
            return None
        node = found
    return node


def key_node(node: Node | None, key: str) -> Node | None:
    """The node of ``key`` itself (for the line of the key)."""
    found = None
    for name, knode, _ in items(node):
        if name == key:
            found = knode
    return found


def line(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def column(node: Node) -> int:
    """1-based column where ``node`` starts."""
    return int(node.start_mark.column) + 1
