"""Lint the documents embedded in manifests, and report each finding at the manifest's path
and line.

Each embedded document is parsed under a path of its own (``values.yaml#master.configuration``)
so that findings of the rules that judge several documents together come back to the right
embedded document; ``mapped`` then puts every finding on the manifest: path, line, column, and
any ``path#name:line`` the message quotes. Inline suppressions are read from the manifest
(``# remediate: ignore RDS001`` on the line or the line above, as in any file) besides those
inside the embedded text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import Document
from remediate.lint.manifests import extract
from remediate.lint.manifests.embedded import Embedded, IdleLimit
from remediate.lint.manifests.idle_path import idle_path_findings
from remediate.model.plans import Finding
from remediate.rules.base import Facts
from remediate.rules.suppress import ALL_RULES, suppressions_in


@dataclass(frozen=True)
class LimitHolder:
    """Stands for a manifest's idle limits when documents are grouped by directory."""

    path: str
    limits: tuple[IdleLimit, ...]
    kind: str = "path"


@dataclass
class ManifestRun:
    """The manifests of one lint run: their embedded documents and where each came from."""

    documents: list[Document] = field(default_factory=list)
    holders: list[LimitHolder] = field(default_factory=list)
    _origins: dict[str, tuple[str, Embedded]] = field(default_factory=dict)
    _silenced: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)

    def add(
        self, path: str, kind: str, data: bytes, facts: Facts, parse_failed: Any
    ) -> list[Finding]:
        """Findings of one manifest; its embedded documents are kept for the group rules.
        ``parse_failed(exc)`` makes the PARSE finding for input that cannot be read."""
        from remediate.formats import parse
        from remediate.formats.redis_conf import parse as parse_redis
        from remediate.rules import check

        self._silenced[path] = suppressions_in(data, kind)
        try:
            extraction = extract(kind, path, data)
        except ParseError as exc:
            return [parse_failed(exc)]
        findings = list(extraction.findings)
        if extraction.idle_limits:
            self.holders.append(LimitHolder(f"{path}#idle", extraction.idle_limits))
        for piece in extraction.embedded:
            virtual = f"{path}#{piece.name}"
            self._origins[virtual] = (path, piece)
            data_bytes = piece.text.encode("utf-8", "surrogateescape")
            try:
                doc = (
                    parse_redis(data_bytes, virtual, flavor=piece.flavor)
                    if piece.kind == "redis" and piece.flavor
                    else parse(piece.kind, data_bytes, virtual)
                )
            except ParseError as exc:
                finding = parse_failed(exc)
                findings.append(replace(finding, message=f"{piece.name}: {finding.message}"))
                continue
            self.documents.append(doc)
            findings.extend(_managed(piece, found) for found in check(doc, facts))
        return self.mapped(findings)

    def together(self, group: Sequence[Any], facts: Facts) -> list[Finding]:
        """The idle-path rule over one group (documents and limit holders)."""
        limits = [limit for item in group if isinstance(item, LimitHolder) for limit in item.limits]
        docs = [item for item in group if not isinstance(item, LimitHolder)]
        return self.mapped(idle_path_findings(docs, limits, facts))

    def mapped(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings with embedded paths and lines put on their manifests, suppressions applied."""
        out = []
        for found in findings:
            origin = self._origins.get(found.path)
            if origin is not None:
                path, piece = origin
                found = replace(
                    found,
                    path=path,
                    line=piece.manifest_line(found.line),
                    column=piece.manifest_column(found.line, found.column),
                )
            out.append(self._suppressed(self._quoted_paths(found)))
        return out

    def _quoted_paths(self, found: Finding) -> Finding:
        if "#" not in found.message:
            return found

        def manifest_place(match: re.Match[str]) -> str:
            origin = self._origins.get(match.group(1))
            if origin is None:
                return match.group(0)
            path, piece = origin
            return f"{path}:{piece.manifest_line(int(match.group(2)))}"

        message = re.sub(r"(\S+#[^:\s]+(?::[^:\s]+)?):(\d+)", manifest_place, found.message)
        return replace(found, message=message)

    def _suppressed(self, found: Finding) -> Finding:
        ids = self._silenced.get(found.path, {}).get(found.line or 0, frozenset())
        if ALL_RULES in ids or found.rule in ids:
            return replace(found, suppressed=True)
        return found


def _managed(piece: Embedded, found: Finding) -> Finding:
    """RDS003 on a managed Redis: its node size is always a memory limit, so an allkeys-*
    policy is never dormant there (an error, as with maxmemory set)."""
    if not piece.managed or found.rule != "RDS003" or found.severity == "error":
        return found
    policy = found.message.split(":", 1)[0]
    return replace(
        found,
        severity="error",
        message=(
            f"{policy} on {piece.managed}, whose node size is its memory limit: at the limit "
            "Redis evicts any key, task queues and unacked messages included"
        ),
    )
