"""YAML loading that remembers where each mapping and key came from, for errors with lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from remediate.errors import ParseError


class LineDict(dict[Any, Any]):
    """A mapping from YAML that knows its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[str(key)] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, error: type[ParseError] = ParseError) -> Any:
    """Parse a YAML file; a syntax error becomes ``error`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError:
        raise error("not UTF-8 text", path=str(path)) from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise error(f"invalid YAML: {reason}", path=str(path), line=line) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", path=str(path)) from None


def line_of(mapping: Any, key: str | None = None) -> int | None:
    """The line of ``mapping`` (or of its ``key``), when it came from ``load_yaml``."""
    if not isinstance(mapping, LineDict):
        return None
    if key is not None and key in mapping.key_lines:
        return mapping.key_lines[key]
    return mapping.line or None
