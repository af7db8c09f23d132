"""Shared helpers of the rule tests: fixture files as parsed documents, and scenarios (a few
files of one host plus runtime facts) run through check() and check_together()."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from remediate.formats import parse
from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules import Facts, check, check_together
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
DOMAIN = SHARED / "DOMAIN.md"
FIXTURES = ROOT / "tests" / "fixtures" / "rules"


def load(kind: str, name: str, path: str | None = None) -> Document:
    """A fixture of tests/fixtures/rules (``name`` relative to it), parsed as ``kind``."""
    file = FIXTURES / name
    return parse(kind, file.read_bytes(), path or str(file))


def doc_of(kind: str, text: str, path: str = "") -> Document:
    return parse(kind, text.encode(), path or f"inline.{kind}")


@dataclass(frozen=True)
class Scenario:
    """Files of one host (kind, fixture name) and what the host's runtime says."""

    files: tuple[tuple[str, str], ...]
    facts: Facts = field(default_factory=Facts)

    def run(self) -> list[Finding]:
        docs = [load(kind, name) for kind, name in self.files]
        findings = [f for doc in docs for f in check(doc, self.facts)]
        return findings + check_together(docs, self.facts)


def one(kind: str, name: str, **facts: object) -> Scenario:
    return Scenario(((kind, name),), Facts(**facts))  # type: ignore[arg-type]


def rules_of(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]
