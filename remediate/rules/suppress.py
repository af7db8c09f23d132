"""Inline suppressions: ``# remediate: ignore CEL004`` in the file itself.

A marker lists rule ids separated by commas or blanks (``# remediate: ignore CEL004, CEL005``);
``# remediate: ignore`` alone silences every rule. Anything after the ids is free text
(``# remediate: ignore RDS001 -- idle clients must go``). A marker silences the findings on its
own line, or on the line below when the marker's line is nothing but a comment. Every kind has
``#`` comments; systemd units also ``;`` comments. (Redis and systemd do not allow a comment
after a value: there, put the marker on the line above.)

Suppressed findings are kept, with ``suppressed=True``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from remediate.formats.base import Document
from remediate.model.plans import Finding

_QUICK = b"remediate:"
_MARKER = re.compile(r"(?:#|;)[ \t]*remediate:[ \t]*ignore\b(?P<ids>[^#;]*)", re.IGNORECASE)
_RULE_ID = re.compile(r"[A-Za-z]+[0-9]+")
_SEPARATORS = re.compile(r"[\s,]+")
_LINE_ENDS = {"systemd": re.compile(r"\r\n|\n|\r")}
_NEWLINE = re.compile(r"\r?\n")
_COMMENT_STARTS = {"systemd": ("#", ";")}

ALL_RULES = "*"


def _ids(text: str) -> frozenset[str]:
    """The rule ids a marker names (leading tokens that look like ids), or ALL_RULES."""
    found: list[str] = []
    for token in _SEPARATORS.split(text.strip()):
        if not _RULE_ID.fullmatch(token):
            break
        found.append(token.upper())
    return frozenset(found) if found else frozenset({ALL_RULES})


def suppressions(doc: Document) -> dict[int, frozenset[str]]:
    """1-based line -> rule ids silenced there (ALL_RULES for every rule)."""
    return suppressions_in(doc.dump(), doc.kind)


def suppressions_in(data: bytes, kind: str) -> dict[int, frozenset[str]]:
    """The same for the bytes of any file with ``#`` comments (``kind`` as documents name it;
    a manifest's YAML or HCL reads like any kind but systemd)."""
    if _QUICK not in data and _QUICK not in data.lower():
        return {}
    text = data.decode("utf-8", "surrogateescape")
    lines = _LINE_ENDS.get(kind, _NEWLINE).split(text)
    starts = _COMMENT_STARTS.get(kind, ("#",))
    silenced: dict[int, set[str]] = {}
    for number, line in enumerate(lines, start=1):
        match = _MARKER.search(line)
        if match is None or (match.group(0)[0] == ";" and kind != "systemd"):
            continue
        ids = _ids(match.group("ids"))
        silenced.setdefault(number, set()).update(ids)
        if line.lstrip().startswith(starts):  # a comment line: it speaks for the next line
            silenced.setdefault(number + 1, set()).update(ids)
    return {number: frozenset(ids) for number, ids in silenced.items()}


def reasons_in(data: bytes, kind: str) -> dict[int, str]:
    """1-based line -> the free text after a marker's ids (``-- idle clients must go`` gives
    ``idle clients must go``), for every line a marker with a reason silences."""
    if _QUICK not in data and _QUICK not in data.lower():
        return {}
    text = data.decode("utf-8", "surrogateescape")
    lines = _LINE_ENDS.get(kind, _NEWLINE).split(text)
    starts = _COMMENT_STARTS.get(kind, ("#",))
    reasons: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        match = _MARKER.search(line)
        if match is None or (match.group(0)[0] == ";" and kind != "systemd"):
            continue
        words = _SEPARATORS.split(match.group("ids").strip())
        while words and _RULE_ID.fullmatch(words[0]):
            words.pop(0)
        reason = " ".join(words).lstrip("-:– ").strip()
        if not reason:
            continue
        reasons[number] = reason
        if line.lstrip().startswith(starts):
            reasons.setdefault(number + 1, reason)
    return reasons


def apply_suppressions(doc: Document, findings: list[Finding]) -> list[Finding]:
    """``findings`` of ``doc`` with ``suppressed=True`` where a marker silences them."""
    if not findings:
        return findings
    silenced = suppressions(doc)
    if not silenced:
        return findings
    out = []
    for found in findings:
        ids = silenced.get(found.line or 0, frozenset())
        if ALL_RULES in ids or found.rule in ids:
            found = replace(found, suppressed=True)
        out.append(found)
    return out
