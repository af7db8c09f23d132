"""The reasons suppressed findings give (``# remediate: ignore CEL004 -- why``), kept for the
SARIF ``suppressions[].justification`` and the JSON report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from remediate.rules.suppress import reasons_in

if TYPE_CHECKING:
    from remediate.lint.run import LintFinding, SourceFile


def with_justifications(
    findings: list[LintFinding], sources: Sequence[SourceFile]
) -> list[LintFinding]:
    """Suppressed findings with the reason their marker gives, for SARIF and JSON."""
    if not any(f.finding.suppressed for f in findings):
        return findings
    data = {s.path: s for s in sources}
    reasons: dict[str, dict[int, str]] = {}
    out = []
    for item in findings:
        source = data.get(item.finding.path)
        if item.finding.suppressed and source is not None and item.finding.line:
            if source.path not in reasons:
                reasons[source.path] = reasons_in(source.data, source.kind or "")
            reason = reasons[source.path].get(item.finding.line, "")
            if reason:
                item = replace(item, justification=reason)
        out.append(item)
    return out
