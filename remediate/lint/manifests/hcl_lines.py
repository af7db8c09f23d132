"""Where things sit in an HCL (Terraform) file. python-hcl2 gives values but no line numbers,
so this scanner reads the source once and says, for every line, the brace depth at its start
and whether it starts inside a string, comment or heredoc; blocks and attributes are then
found on the lines that start as code.

    lines = HclLines(text)
    for block in lines.blocks("resource"):            # Block(labels, start, end)
        lines.attribute(block, "engine_type")         # 1-based line, or None
        lines.sub_blocks(block, "parameter")          # the nested blocks, in file order
        lines.heredoc(lines.attribute(block, "data")) # (first line, texts, indent) of <<EOF
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*$")
_BLOCK = re.compile(r"[ \t]*([A-Za-z_][\w-]*)((?:[ \t]+\"[^\"]*\")*)[ \t]*\{")
_ATTRIBUTE = re.compile(r"[ \t]*(\"?)([A-Za-z_][\w.-]*)\1[ \t]*[=:](?!=)")
_LABEL = re.compile(r"\"([^\"]*)\"")


@dataclass(frozen=True)
class Block:
    kind: str  # resource, parameter, redis_configs (a map attribute) ...
    labels: tuple[str, ...]
    start: int  # 1-based line of the header
    end: int  # 1-based line of the closing brace
    depth: int  # depth of the block's own attributes


class HclLines:
    def __init__(self, text: str) -> None:
        self.rows = text.split("\n")
        self.depth: list[int] = []  # brace depth at the start of each line (0-based index)
        self.code: list[bool] = []  # the line starts outside strings, comments, heredocs
        self._scan(text)

    def _scan(self, text: str) -> None:
        depth, in_comment, heredoc = 0, False, None
        for row in self.rows:
            self.depth.append(depth)
            self.code.append(not in_comment and heredoc is None)
            if heredoc is not None:
                if row.strip() == heredoc:
                    heredoc = None
                continue
            i, quote_stack = 0, 0
            while i < len(row):
                ch, pair = row[i], row[i : i + 2]
                if in_comment:
                    if pair == "*/":
                        in_comment, i = False, i + 2
                        continue
                    i += 1
                    continue
                if quote_stack:
                    if ch == "\\":
                        i += 2
                        continue
                    if ch == '"':
                        quote_stack -= 1
                    i += 1
                    continue
                if ch == "#" or pair == "//":
                    break
                if pair == "/*":
                    in_comment, i = True, i + 2
                    continue
                if ch == '"':
                    quote_stack += 1
                elif ch in "{[(":
                    depth += 1
                elif ch in "}])":
                    depth -= 1
                elif pair == "<<":
                    match = _HEREDOC.match(row, i)
                    if match:
                        heredoc = match.group(2)
                        break
                i += 1

    def blocks(self, kind: str, within: Block | None = None) -> list[Block]:
        """Blocks (or map attributes, ``name = {``) named ``kind`` at the top level or directly
        inside ``within``."""
        depth = within.depth if within else 0
        first, last = (within.start + 1, within.end) if within else (1, len(self.rows))
        found = []
        for number in range(first, last + 1):
            index = number - 1
            if not self.code[index] or self.depth[index] != depth:
                continue
            row = self.rows[index]
            match = _BLOCK.match(row)
            labels: tuple[str, ...] = ()
            if match and match.group(1) == kind:
                labels = tuple(_LABEL.findall(match.group(2)))
            elif not re.match(rf"[ \t]*\"?{re.escape(kind)}\"?[ \t]*=[ \t]*\{{", row):
                continue
            found.append(Block(kind, labels, number, self._end(index, depth), depth + 1))
        return found

    def _end(self, index: int, depth: int) -> int:
        for later in range(index + 1, len(self.rows)):
            if self.depth[later] <= depth and self.code[later]:
                return later  # the line before it (1-based: later) closed the block
        return len(self.rows)

    def sub_blocks(self, block: Block, kind: str) -> list[Block]:
        return self.blocks(kind, block)

    def attribute(self, block: Block, name: str) -> int | None:
        """The line of attribute ``name`` directly in ``block`` (the last one if repeated)."""
        found = None
        for number in range(block.start + 1, block.end + 1):
            index = number - 1
            if not self.code[index] or self.depth[index] != block.depth:
                continue
            match = _ATTRIBUTE.match(self.rows[index])
            if match and match.group(2) == name:
                found = number
        return found

    def heredoc(self, line: int | None) -> tuple[int, list[str], int] | None:
        """The body of a heredoc opened on ``line``: (first body line, its lines, the indent
        ``<<-`` strips)."""
        if line is None:
            return None
        match = _HEREDOC.search(self.rows[line - 1].rstrip("\r"))
        if match is None:
            return None
        body: list[str] = []
        for row in self.rows[line:]:
            if row.strip() == match.group(2):
                break
            body.append(row.rstrip("\r"))
        indent = 0
        if match.group(1):
            widths = [len(r) - len(r.lstrip(" \t")) for r in body if r.strip()]
            indent = min(widths, default=0)
        return line + 1, [r[indent:] for r in body], indent

    def column(self, line: int, text: str) -> int:
        """1-based column of ``text`` on ``line`` (1 when it is not there)."""
        at = self.rows[line - 1].find(text)
        return at + 1 if at >= 0 else 1
