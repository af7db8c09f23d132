"""Text-level edits of a YAML file that leave every other byte alone: the lines of a literal
block scalar (``key: |``) as the text they hold, written back with their indentation, and a new
``key: |`` block added at the end of a block mapping.

    block = literal_block(lines, node, key_column)     # None unless ``node`` is a ``|`` block
    block.text                                         # the value's lines, indentation removed
    new_lines = block.replaced(lines, new_text)        # unchanged lines copied byte for byte

``lines`` are the file's lines with their line endings (``str.splitlines(keepends=True)``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from remediate.formats.yaml_nodes import Node, items

_HEADER = re.compile(r"\|([1-9]?)[-+]?|\|[-+]([1-9])")
_TEMPLATE = re.compile(r"\{\{|\{%")


@dataclass(frozen=True)
class LiteralBlock:
    """The content lines of a literal block scalar: file lines ``[start, end)`` (0-based),
    each indented by ``indent`` blanks. Trailing blank lines stay outside (in the file)."""

    start: int
    end: int
    indent: int
    lines: tuple[str, ...]  # each content line without the indentation, line ending kept

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def parse_text(self) -> str:
        """The text for a config parser: lines with a Helm/Jinja tag (``{{ ... }}``) become
        comments, so no setting is read (or edited) from a line only the chart renders."""
        return "".join("#" + line if _TEMPLATE.search(line) else line for line in self.lines)

    def replaced(self, file_lines: list[str], old_text: str, new_text: str) -> list[str]:
        """``file_lines`` with this block's content made ``new_text`` (the edited form of
        ``old_text``): lines equal in both are copied from the file, new ones indented."""
        old = old_text.splitlines(keepends=True)
        new = new_text.splitlines(keepends=True)
        ending = _ending(file_lines[self.start - 1] if self.start else "\n")
        own = file_lines[self.start : self.end]
        out: list[str] = []
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                out += own[i1:i2]
                continue
            out += [self._indented(line, ending) for line in new[j1:j2]]
        if out and not out[-1].endswith(("\n", "\r")) and self.end < len(file_lines):
            out[-1] += ending
        return file_lines[: self.start] + out + file_lines[self.end :]

    def _indented(self, line: str, ending: str) -> str:
        body = line.rstrip("\r\n")
        end = line[len(body) :] or ending
        return (" " * self.indent + body if body.strip() else "") + end


def _ending(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n"


def literal_block(file_lines: list[str], node: Node, key_column: int) -> LiteralBlock | None:
    """The content of ``node`` when it is a literal block scalar (else None). ``key_column``:
    0-based column of the key that holds it (an indentation indicator counts from there)."""
    if getattr(node, "style", None) != "|":
        return None
    header = int(node.start_mark.line)
    row = file_lines[header] if header < len(file_lines) else ""
    match = _HEADER.search(row, int(node.start_mark.column))
    digit = (match.group(1) or match.group(2)) if match else ""
    start = header + 1
    indent = key_column + int(digit) if digit else 0
    end = start
    for index in range(start, len(file_lines)):
        body = file_lines[index].rstrip("\r\n")
        if not body.strip():
            continue
        lead = len(body) - len(body.lstrip(" "))
        if not indent:
            indent = lead
        if lead < indent:
            break
        end = index + 1
    if end == start:
        indent = indent or key_column + 2
    own = [
        line[indent:] if len(line.rstrip("\r\n")) > indent else _ending(line)
        for line in file_lines[start:end]
    ]
    return LiteralBlock(start, end, indent, tuple(own))


def mapping_end(file_lines: list[str], mapping: Node) -> int:
    """The 0-based line after the last entry of a block mapping (blank lines after it are
    left below): where a new key of that mapping goes."""
    last = list(items(mapping))
    if not last:
        return int(mapping.end_mark.line)
    value = last[-1][2]
    mark = value.end_mark
    at = int(mark.line) if mark.column == 0 else int(mark.line) + 1
    floor = int(last[-1][1].start_mark.line) + 1
    while at > floor and not file_lines[at - 1].strip():
        at -= 1
    return min(at, len(file_lines))


def new_block_lines(keys: list[str], indent: int, text: str, ending: str) -> list[str]:
    """``keys[0]:`` / ``  keys[1]: |`` ... lines holding ``text`` as a literal block."""
    out = [" " * (indent + 2 * depth) + f"{key}:" + ending for depth, key in enumerate(keys[:-1])]
    out.append(" " * (indent + 2 * (len(keys) - 1)) + f"{keys[-1]}: |" + ending)
    inner = " " * (indent + 2 * len(keys))
    for line in text.splitlines():
        out.append((inner + line if line.strip() else "") + ending)
    return out
