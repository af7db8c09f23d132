"""YAML as PyYAML's node tree, which keeps the line and column of every key and value, and the
lines of a string value as they sit in the file (block scalars ``|`` line for line).

    docs = load_documents(text, "values.yaml")        # raises ParseError naming the line
    node = child(docs[0], "master", "configuration")
    builder = EmbeddedBuilder("redis", "master.configuration", anchor=line(node))
    add_string_lines(builder, node, text_lines)
"""

from __future__ import annotations

import re

from remediate.formats.yaml_nodes import (  # noqa: F401  (lint's manifest readers import them here)
    Node,
    child,
    column,
    elements,
    is_mapping,
    is_sequence,
    items,
    key_node,
    line,
    load_documents,
    scalar,
)
from remediate.lint.manifests.embedded import EmbeddedBuilder

_TEMPLATE = re.compile(r"\{\{|\{%")


def add_string_lines(
    builder: EmbeddedBuilder, node: Node, source: list[str], blank_templates: bool = False
) -> None:
    """Add the lines of string value ``node`` to ``builder``, each at its line in the file.

    A literal block (``|``) keeps its lines one for one, from the line after its header, with
    the block's indentation as the column offset. A one-line value sits at its own line and
    column. Any other multi-line value (folded ``>``, quoted with escapes) puts every line at
    the value's first line: the line is right, the position within it is not known.
    ``blank_templates`` empties lines holding a Helm/Jinja tag (``{{ ... }}``): their value is
    not known until the chart renders them, so no rule may judge them."""
    value = scalar(node)
    if value is None:
        return
    texts = value.split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    if node.style == "|":
        first = line(node) + 1
        indent = _block_indent(texts, source, first)
        for k, text in enumerate(texts):
            if blank_templates and _TEMPLATE.search(text):
                text = ""
            builder.add(text, first + k, indent + 1)
        return
    start, col = line(node), column(node) + (1 if node.style in ("'", '"') else 0)
    for text in texts:
        if blank_templates and _TEMPLATE.search(text):
            text = ""
        builder.add(text, start, col if len(texts) == 1 else 1)


def _block_indent(texts: list[str], source: list[str], first: int) -> int:
    """Blanks before a literal block's content in the file (0-based count)."""
    for k, text in enumerate(texts):
        if text.strip() and 0 < first + k <= len(source):
            row = source[first + k - 1].rstrip("\r")
            at = row.rfind(text.rstrip())
            if at >= 0:
                return at
    return 0


def looks_templated(text: str) -> bool:
    return bool(_TEMPLATE.search(text))
