"""Renderings of a lint run: text for people, JSON (also the --baseline input), SARIF 2.1.0
for code scanning, JUnit XML for CI test tabs. Pure: a LintRun in, a string out.

The exit code is the run's (``LintRun.exit_code``), the same whatever the format."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from remediate import __version__
from remediate.lint.config import repository_root
from remediate.lint.run import SEVERITIES, SEVERITY_RANK, LintFinding, LintRun, all_rules
from remediate.report.words import plural

FORMATS = ("text", "json", "sarif", "junit", "github")
INFORMATION_URI = "https://pypi.org/project/remediate-celery/"  # the distribution's name
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "remediate/v1"
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


def render(run: LintRun, fmt: str, fail_on: str, cwd: Path | None = None) -> str:
    """The report in ``fmt`` (one of FORMATS), as the text to write. SARIF and GitHub paths
    are relative to the git top level above ``cwd`` (default: the working directory)."""
    if fmt == "github":
        from remediate.lint.github import from_root, workflow_commands

        here = cwd or run.cwd or Path.cwd()
        paths = [f.finding.path for f in run.findings] + [e.path for e in run.errors]
        return workflow_commands(
            run, summary_line(run, fail_on), from_root(paths, here, _root(here))
        )
    if fmt == "text":
        return "".join(line + "\n" for _, line in text_lines(run, fail_on))
    if fmt == "json":
        return dumps(lint_json(run, fail_on))
    if fmt == "sarif":
        return dumps(lint_sarif(run, cwd))
    if fmt == "junit":
        return lint_junit(run, fail_on)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def summary(run: LintRun, fail_on: str) -> dict[str, Any]:
    shown = [f.finding for f in run.findings if not f.finding.suppressed]
    by_severity = Counter(f.severity for f in shown)
    return {
        "files": len(run.files),
        "findings": len(shown),
        **{severity: by_severity.get(severity, 0) for severity in SEVERITIES},
        "suppressed": len(run.findings) - len(shown),
        "baselined": run.baselined,
        "unreadable": len(run.errors),  # paths; "error" counts findings of severity error
        "failing": len(run.failing(fail_on)),
        "fail_on": fail_on,
    }


# -- text ----------------------------------------------------------------------------------


def text_lines(run: LintRun, fail_on: str) -> list[tuple[str, str]]:
    """``file:line:col: ID severity message`` and the fix indented below; then a summary.
    As (style, text) pairs: the CLI colours them on a terminal."""
    out: list[tuple[str, str]] = []
    for item in run.findings:
        f = item.finding
        if f.suppressed:
            continue
        where = f"{f.path}:{f.line}:{f.column or 1}" if f.line else f.path
        out.append(
            (SEVERITY_STYLE.get(f.severity, ""), f"{where}: {f.rule} {f.severity} {f.message}")
        )
        if f.fix:
            out.append(("dim", f"    fix: {f.fix}"))
    for error in run.errors:
        out.append(("bold red", f"{error.path}: error: {error.reason}"))
    out.append(("bold", summary_line(run, fail_on)))
    return out


def summary_line(run: LintRun, fail_on: str) -> str:
    s = summary(run, fail_on)
    counts = ", ".join(plural(s[sev], sev) for sev in reversed(SEVERITIES))
    extra = "".join(
        f", {s[k]} {label}"
        for k, label in (
            ("suppressed", "suppressed"),
            ("baselined", "in baseline"),
            ("unreadable", "unreadable"),
        )
        if s[k]
    )
    return (
        f"{plural(s['files'], 'file')} linted: {plural(s['findings'], 'finding')} ({counts}){extra}; "
        f"{s['failing']} at or above {fail_on} (exit {run.exit_code(fail_on)})"
    )


# -- JSON ----------------------------------------------------------------------------------


def lint_json(run: LintRun, fail_on: str) -> dict[str, Any]:
    """The versioned, sorted JSON report; ``--baseline`` reads it back."""
    findings = [
        {
            "rule": f.finding.rule,
            "severity": f.finding.severity,
            "kind": f.finding.kind,
            "path": f.finding.path,
            "line": f.finding.line,
            "column": f.finding.column,
            "message": f.finding.message,
            "fix": f.finding.fix,
            "suppressed": f.finding.suppressed,
            "justification": f.justification or None,
            "fingerprint": f.fingerprint,
        }
        for f in run.findings
    ]
    return {
        "schema": 1,
        "kind": "lint",
        "tool": f"remediate {__version__}",
        "findings": findings,
        "files": [{"path": path, "kind": kind} for path, kind in sorted(run.files)],
        "errors": [{"path": e.path, "message": e.reason} for e in run.errors],
        "summary": summary(run, fail_on),
        "exit_code": run.exit_code(fail_on),
    }


# -- SARIF 2.1.0 ---------------------------------------------------------------------------


def lint_sarif(run: LintRun, cwd: Path | None = None) -> dict[str, Any]:
    """One SARIF run: every rule in tool.driver.rules, one result per finding (suppressed ones
    with an inSource suppression and its justification), locations relative to %SRCROOT%:
    the git top level above ``cwd`` (else ``cwd``), as code scanning expects."""
    here = (cwd or run.cwd or Path.cwd()).resolve()
    root = _root(here) or here
    rules = all_rules()
    ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    driver = {
        "name": "remediate",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_sarif_rule(rules[rule_id]) for rule_id in ids],
    }
    results = [_sarif_result(item, index, here, root) for item in run.findings]
    invocation: dict[str, Any] = {"executionSuccessful": not run.errors}
    if run.errors:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error",
                "message": {"text": f"{e.path}: {e.reason}"},
                "locations": [
                    {"physicalLocation": {"artifactLocation": _artifact(e.path, here, root)}}
                ],
            }
            for e in run.errors
        ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": results,
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
            }
        ],
    }


def _sarif_rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": _pascal(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.help or rule.title},
        "help": {"text": f"{rule.help}\nFix: {rule.fix}" if rule.fix else rule.help},
        "defaultConfiguration": {"level": SARIF_LEVEL.get(rule.severity, "warning")},
        "properties": {"tags": [rule.kind]},
    }


def _pascal(title: str) -> str:
    """A rule's SARIF ``name``: its title as one PascalCase identifier."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words)[:80] or "Rule"


def _sarif_result(
    item: LintFinding, index: dict[str, int], cwd: Path, root: Path
) -> dict[str, Any]:
    f = item.finding
    physical: dict[str, Any] = {"artifactLocation": _artifact(f.path, cwd, root)}
    if f.line:
        physical["region"] = {"startLine": f.line, "startColumn": f.column or 1}
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "level": SARIF_LEVEL.get(f.severity, "warning"),
        "message": {"text": f"{f.message}. Fix: {f.fix}" if f.fix else f.message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT_KEY: item.fingerprint},
    }
    if f.rule in index:
        result["ruleIndex"] = index[f.rule]
    if f.suppressed:
        suppression = {"kind": "inSource"}
        if item.justification:
            suppression["justification"] = item.justification
        result["suppressions"] = [suppression]
    return result


def _root(cwd: Path) -> Path | None:
    return repository_root(cwd)


def _artifact(path: str, cwd: Path, root: Path) -> dict[str, Any]:
    """A path under ``root`` is relative to %SRCROOT%; any other is a file: URI."""
    absolute = Path(os.path.normpath(cwd / path))  # cwd / an absolute path is that path
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        return {"uri": "file://" + quote(absolute.as_posix())}
    return {"uri": quote(relative.as_posix()), "uriBaseId": "%SRCROOT%"}


# -- JUnit XML -----------------------------------------------------------------------------


def lint_junit(run: LintRun, fail_on: str) -> str:
    """One testsuite per file, one testcase per finding (a file without findings has one
    passing testcase): failures at or above ``fail_on``, suppressed findings skipped,
    unreadable paths as errors."""
    floor = SEVERITY_RANK[fail_on]
    by_path: dict[str, list[LintFinding]] = {path: [] for path, _ in run.files}
    for item in run.findings:
        by_path.setdefault(item.finding.path, []).append(item)
    root = ElementTree.Element("testsuites", name="remediate lint")
    totals: Counter[str] = Counter()
    for path in sorted(by_path):
        suite = ElementTree.SubElement(root, "testsuite", name=path)
        counts: Counter[str] = Counter()
        for item in by_path[path]:
            f = item.finding
            where = f"{f.path}:{f.line}" if f.line else f.path
            case = ElementTree.SubElement(
                suite, "testcase", classname=path, name=f"{f.rule} {where}", file=path
            )
            if f.line:
                case.set("line", str(f.line))
            body = f"{where}: {f.rule} {f.severity} {f.message}" + (
                f"\nfix: {f.fix}" if f.fix else ""
            )
            if f.suppressed:
                ElementTree.SubElement(case, "skipped", message="suppressed in source").text = body
                counts["skipped"] += 1
            elif SEVERITY_RANK.get(f.severity, 2) >= floor:
                ElementTree.SubElement(case, "failure", message=f.message, type=f.rule).text = body
                counts["failures"] += 1
            else:
                ElementTree.SubElement(case, "system-out").text = body
            counts["tests"] += 1
        if not by_path[path]:
            ElementTree.SubElement(suite, "testcase", classname=path, name="lint", file=path)
            counts["tests"] += 1
        _set_counts(suite, counts)
        totals.update(counts)
    for error in run.errors:
        suite = ElementTree.SubElement(root, "testsuite", name=error.path)
        case = ElementTree.SubElement(
            suite, "testcase", classname=error.path, name="read", file=error.path
        )
        ElementTree.SubElement(
            case, "error", message=error.reason, type="unreadable"
        ).text = f"{error.path}: {error.reason}"
        counts = Counter(tests=1, errors=1)
        _set_counts(suite, counts)
        totals.update(counts)
    _set_counts(root, totals)
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )


def _set_counts(element: ElementTree.Element, counts: Counter[str]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts.get(key, 0)))
