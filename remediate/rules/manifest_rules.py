"""The rules of the documents a manifest file kind embeds (``helm-values``, ``compose-file``):
each embedded redis.conf / rabbitmq.conf runs its kind's rules, and every finding is put on
the manifest's path, line and column, as ``lint`` does for manifests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts


def check_manifest(doc: Document, facts: Facts) -> list[Finding]:
    from remediate.rules import check

    pieces: Any = getattr(doc, "rule_documents", list)()
    out: list[Finding] = []
    for embedded, lines, columns in pieces:
        for found in check(embedded, facts):
            at = found.line
            inside = at is not None and 0 < at <= len(lines)
            out.append(
                replace(
                    found,
                    path=doc.path,
                    line=lines[at - 1] if inside and at else found.line,
                    column=found.column + columns[at - 1]
                    if inside and at and found.column is not None
                    else found.column,
                )
            )
    return list(dict.fromkeys(out))  # a commonConfiguration line is judged once per server
