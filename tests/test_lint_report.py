"""The renderings of a lint run: text, JSON (and --baseline), SARIF 2.1.0 checked against the
official schema, JUnit XML parsed back."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from remediate.lint.report import lint_json, lint_junit, lint_sarif, render, text_lines
from remediate.lint.run import LintFinding, LintRun, PathError, all_rules, lint_paths
from remediate.model.plans import Finding
from tests.conftest import CORPUS, run_cli

ROOT = Path(__file__).resolve().parents[1]  # a git checkout (worktree): SARIF's %SRCROOT%
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LINT = FIXTURES / "lint"
SARIF_SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def host_run() -> LintRun:
    """celeryconfig.py + redis.conf of one host: errors, warnings, infos, a suppressed one,
    a cross-component finding."""
    return lint_paths([LINT / "host", LINT / "clean"], cwd=LINT)


def _validate_sarif(doc: dict[str, object]) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)


# -- text ----------------------------------------------------------------------------------


def test_text_is_one_line_per_finding_with_the_fix_below(host_run: LintRun) -> None:
    lines = render(host_run, "text", "warning").splitlines()
    shown = [f.finding for f in host_run.findings if not f.finding.suppressed]
    finding_lines = [line for line in lines if not line.startswith("    ")][:-1]
    assert len(finding_lines) == len(shown) == 5
    for line, finding in zip(finding_lines, shown):
        assert re.fullmatch(r"[^:]+:\d+:\d+: [A-Z]+\d+ (info|warning|error) .+", line), line
        assert line.startswith(
            f"{finding.path}:{finding.line}:{finding.column or 1}: "
            f"{finding.rule} {finding.severity} "
        )
    assert lines[1].startswith("    fix: ")
    assert lines[-1] == (
        "3 files linted: 5 findings (1 error, 2 warnings, 2 info), 1 suppressed; "
        "3 at or above warning (exit 2)"
    )


def test_text_styles_follow_severity(host_run: LintRun) -> None:
    styles = {
        text.split()[2]: style
        for style, text in text_lines(host_run, "warning")
        if re.match(r"\S+:\d+:\d+: ", text)
    }
    assert styles == {"error": "red", "warning": "yellow", "info": "blue"}


def test_a_finding_without_a_line_prints_the_path_alone() -> None:
    finding = Finding("KIND", "info", "", "notes.txt", None, "not a file of a known kind")
    run = LintRun((("notes.txt", None),), (LintFinding(finding, "f" * 32),))
    assert render(run, "text", "warning").splitlines()[0] == (
        "notes.txt: KIND info not a file of a known kind"
    )


# -- JSON ----------------------------------------------------------------------------------


def test_json_is_versioned_sorted_and_stable(host_run: LintRun) -> None:
    doc = lint_json(host_run, "warning")
    assert (doc["schema"], doc["kind"], doc["exit_code"]) == (1, "lint", 2)
    assert doc["summary"] == {
        "files": 3,
        "findings": 5,
        "error": 1,
        "warning": 2,
        "info": 2,
        "suppressed": 1,
        "baselined": 0,
        "unreadable": 0,  # paths; "error" counts findings
        "failing": 3,
        "fail_on": "warning",
    }
    keys = [(f["path"], f["line"], f["column"], f["rule"]) for f in doc["findings"]]
    assert keys == sorted(keys)
    assert set(doc["findings"][0]) == {
        "rule",
        "severity",
        "kind",
        "path",
        "line",
        "column",
        "message",
        "fix",
        "suppressed",
        "justification",
        "fingerprint",
    }
    again = lint_paths([LINT / "clean", LINT / "host"], cwd=LINT)  # other argument order
    assert render(again, "json", "warning") == render(host_run, "json", "warning")


def test_json_exit_code_follows_fail_on(host_run: LintRun) -> None:
    assert lint_json(host_run, "error")["exit_code"] == 2
    redis_only = lint_paths([LINT / "host" / "etc"], cwd=LINT)
    assert lint_json(redis_only, "error")["exit_code"] == 0
    assert lint_json(redis_only, "warning")["exit_code"] == 2


# -- SARIF ---------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(host_run: LintRun) -> None:
    _validate_sarif(lint_sarif(host_run))


def test_sarif_rejects_what_the_schema_rejects(host_run: LintRun) -> None:
    broken = lint_sarif(host_run)
    broken["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    with pytest.raises(jsonschema.ValidationError):
        _validate_sarif(broken)


def test_sarif_driver_lists_every_rule_with_what_code_scanning_shows(host_run: LintRun) -> None:
    driver = lint_sarif(host_run)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["informationUri"].startswith("https://")) == ("remediate", True)
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted(all_rules()) and {"CEL004", "RDS002", "X001", "PARSE", "KIND"} <= set(ids)
    for rule in driver["rules"]:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"])
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
    by_id = {rule["id"]: rule for rule in driver["rules"]}
    assert by_id["CEL006"]["defaultConfiguration"]["level"] == "error"
    assert by_id["RDS001"]["defaultConfiguration"]["level"] == "note"


def test_sarif_results_point_into_the_source_tree(host_run: LintRun) -> None:
    run = lint_sarif(host_run)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == len(host_run.findings) == 6
    for result, item in zip(run["results"], host_run.findings):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == item.finding.rule
        location = result["locations"][0]["physicalLocation"]
        # relative to the git top level (%SRCROOT%), not to the directory lint ran in
        uri = (LINT / item.finding.path).relative_to(ROOT).as_posix()
        assert location["artifactLocation"] == {"uri": uri, "uriBaseId": "%SRCROOT%"}
        assert location["region"] == {
            "startLine": item.finding.line,
            "startColumn": item.finding.column or 1,
        }
        assert result["partialFingerprints"] == {"remediate/v1": item.fingerprint}
        assert ("suppressions" in result) == item.finding.suppressed
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": ROOT.as_uri() + "/"}}
    [suppressed] = [r for r in run["results"] if "suppressions" in r]
    assert suppressed["ruleId"] == "RDS001"
    assert suppressed["suppressions"] == [
        {"kind": "inSource", "justification": _reason_in_fixture()}
    ]


def _reason_in_fixture() -> str:
    text = (LINT / "host" / "etc" / "redis" / "redis.conf").read_text()
    [marker] = [line for line in text.splitlines() if "remediate: ignore" in line]
    return marker.split("RDS001", 1)[1].strip(" -")


def test_sarif_fingerprints_are_stable_across_runs_and_line_moves(tmp_path: Path) -> None:
    shutil.copytree(LINT / "host", tmp_path / "host")
    before = lint_sarif(lint_paths([tmp_path / "host"], cwd=tmp_path))["runs"][0]["results"]
    conf = tmp_path / "host" / "etc" / "redis" / "redis.conf"
    conf.write_text("# three new lines\nloglevel notice\n\n" + conf.read_text())
    after = lint_sarif(lint_paths([tmp_path / "host"], cwd=tmp_path))["runs"][0]["results"]

    def prints(results: list[dict]) -> dict[str, str]:
        return {r["partialFingerprints"]["remediate/v1"]: r["ruleId"] for r in results}

    assert prints(before) == prints(after)
    moved = [
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in after
        if r["ruleId"] == "RDS002"
    ]
    assert moved == [9]


def test_sarif_paths_need_escaping_and_unreadable_paths_are_notifications(tmp_path: Path) -> None:
    odd = tmp_path / "my configs"
    odd.mkdir()
    (odd / "redis.conf").write_text("tcp-keepalive 0\n")
    run = lint_paths([odd, tmp_path / "missing.conf"], cwd=tmp_path)
    doc = lint_sarif(run)
    _validate_sarif(doc)
    [result] = doc["runs"][0]["results"]
    assert (
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "my%20configs/redis.conf"
    )
    [invocation] = doc["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert (
        invocation["toolExecutionNotifications"][0]["message"]["text"]
        == "missing.conf: no such file or directory"
    )


def test_sarif_of_the_whole_corpus_validates() -> None:
    doc = lint_sarif(lint_paths([CORPUS], cwd=CORPUS))
    _validate_sarif(doc)
    assert len(doc["runs"][0]["results"]) > 50


def test_sarif_through_the_cli_is_the_same_document() -> None:
    result = run_cli("lint", "host", "clean", "--format", "sarif", cwd=LINT)
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    _validate_sarif(doc)
    assert doc == lint_sarif(lint_paths([LINT / "host", LINT / "clean"], cwd=LINT))


# -- JUnit ---------------------------------------------------------------------------------


def _suites(xml: str) -> dict[str, ElementTree.Element]:
    root = ElementTree.fromstring(xml)
    assert root.tag == "testsuites"
    return {suite.get("name", ""): suite for suite in root.findall("testsuite")}


def test_junit_has_one_suite_per_file_and_failures_at_fail_on(host_run: LintRun) -> None:
    xml = lint_junit(host_run, "warning")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    suites = _suites(xml)
    assert sorted(suites) == [
        "clean/redis.conf",
        "host/etc/redis/redis.conf",
        "host/srv/app/celeryconfig.py",
    ]
    celery = suites["host/srv/app/celeryconfig.py"]
    cases = celery.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "CEL005 host/srv/app/celeryconfig.py:4",
        "X001 host/srv/app/celeryconfig.py:4",
        "CEL006 host/srv/app/celeryconfig.py:5",
        "CEL008 host/srv/app/celeryconfig.py:5",
    ]
    failed = [c.get("name", "").split()[0] for c in cases if c.find("failure") is not None]
    assert failed == ["CEL005", "CEL006"]
    assert (celery.get("tests"), celery.get("failures"), celery.get("skipped")) == ("4", "2", "0")
    redis = suites["host/etc/redis/redis.conf"]
    assert [c.find("skipped") is not None for c in redis.findall("testcase")] == [True, False]
    clean = suites["clean/redis.conf"].findall("testcase")
    assert [(c.get("name"), list(c)) for c in clean] == [("lint", [])]
    root = ElementTree.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "3", "1")


def test_junit_failures_follow_fail_on(host_run: LintRun) -> None:
    def failures(fail_on: str) -> str | None:
        return ElementTree.fromstring(lint_junit(host_run, fail_on)).get("failures")

    assert (failures("info"), failures("warning"), failures("error")) == ("5", "3", "1")


def test_junit_escapes_text_and_reports_unreadable_paths() -> None:
    finding = Finding("CEL001", "warning", "celery", "a&b/<c>.py", 3, 'name "x" & <y> is unknown')
    run = LintRun(
        (("a&b/<c>.py", "celery"),),
        (LintFinding(finding, "0" * 32),),
        (PathError("gone.conf", "no such file or directory"),),
    )
    suites = _suites(lint_junit(run, "warning"))
    failure = suites["a&b/<c>.py"].find("testcase/failure")
    assert failure is not None and failure.get("message") == 'name "x" & <y> is unknown'
    error = suites["gone.conf"].find("testcase/error")
    assert error is not None and error.get("message") == "no such file or directory"


def test_junit_through_the_cli_parses(tmp_path: Path) -> None:
    out = tmp_path / "lint.xml"
    result = run_cli("lint", "host", "--format", "junit", "--output", str(out), cwd=LINT)
    assert result.returncode == 2 and result.stdout == ""
    assert len(_suites(out.read_text())) == 2
