"""lint in CI: GitHub annotations, --select/--ignore and the config file, suppression reasons."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from remediate.errors import ParseError, UsageError
from remediate.lint.config import RuleFilter, find_config, rule_filter, split_ids
from remediate.lint.github import escape_data, escape_property
from remediate.lint.run import all_rules
from tests.conftest import run_cli

REDIS = "timeout 300\ntcp-keepalive 0\n"  # RDS001 info (line 1), RDS002 warning (line 2)
CELERY = (
    "broker_url = 'redis://localhost:6379/0'\n"
    "broker_heartbeat = 10  # remediate: ignore CEL004 -- this app also talks to RabbitMQ\n"
)
ANNOTATION = re.compile(
    r"::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)"
)  # https://docs.github.com/actions/reference/workflow-commands-for-github-actions


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with config files in a subdirectory."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "redis.conf").write_text(REDIS)
    (tmp_path / "deploy" / "celeryconfig.py").write_text(CELERY)
    return tmp_path


def test_github_annotations_point_from_the_repository_root(repo: Path) -> None:
    result = run_cli("lint", ".", "--format", "github", cwd=repo / "deploy")
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    found = [ANNOTATION.fullmatch(line) for line in lines[:-1]]
    assert all(found), lines
    props = [dict(p.split("=", 1) for p in m.group("props").split(",")) for m in found if m]
    by_title = {p["title"]: (m.group("level"), p) for m, p in zip(found, props) if m}
    level, rds002 = by_title["RDS002 warning"]
    assert level == "warning"
    assert (rds002["file"], rds002["line"], rds002["col"]) == ("deploy/redis.conf", "2", "1")
    assert by_title["RDS001 info"][0] == "notice"
    assert "CEL004 warning" not in by_title  # suppressed in the file
    assert lines[-1].startswith("2 files linted: ")
    assert "%0Afix: " in result.stdout  # the fix on the annotation's second line


def test_workflow_command_escaping() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_select_and_ignore_on_the_command_line(repo: Path) -> None:
    only = run_cli("lint", ".", "--format", "json", "--select", "RDS002", cwd=repo)
    assert [f["rule"] for f in json.loads(only.stdout)["findings"]] == ["RDS002"]
    rest = run_cli("lint", ".", "--format", "json", "--ignore", "RDS002,CEL", cwd=repo)
    assert {f["rule"] for f in json.loads(rest.stdout)["findings"]} == {"RDS001"}
    assert rest.returncode == 0  # RDS001 is info: below --fail-on warning
    bad = run_cli("lint", ".", "--select", "RSD", cwd=repo)
    assert bad.returncode == 64
    assert "--select 'RSD': no rule id starts with it" in bad.stderr


def test_select_and_ignore_from_remediate_toml_and_pyproject(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.remediate.lint]\nignore = ["RDS002"]\n')
    from_pyproject = run_cli("lint", ".", "--format", "json", cwd=repo / "deploy")
    rules = {f["rule"] for f in json.loads(from_pyproject.stdout)["findings"]}
    assert "RDS002" not in rules and "RDS001" in rules
    (repo / "deploy" / "remediate.toml").write_text('[lint]\nselect = ["RDS"]\n')  # nearer wins
    nearer = run_cli("lint", ".", "--format", "json", cwd=repo / "deploy")
    assert {f["rule"] for f in json.loads(nearer.stdout)["findings"]} == {"RDS001", "RDS002"}
    cli = run_cli("lint", ".", "--format", "json", "--select", "CEL", cwd=repo / "deploy")
    assert {f["rule"][:3] for f in json.loads(cli.stdout)["findings"]} == {"CEL"}  # replaces
    (repo / "deploy" / "remediate.toml").write_text('[lint]\nselect = ["NOPE"]\n')
    wrong = run_cli("lint", ".", cwd=repo / "deploy")
    assert wrong.returncode == 64
    assert f"{repo / 'deploy' / 'remediate.toml'}: select 'NOPE'" in wrong.stderr


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "remediate.toml").write_text("[lint]\nselect = 'RDS'\n")
    with pytest.raises(ParseError, match="select must be a list"):
        find_config(tmp_path)
    (tmp_path / "remediate.toml").write_text("[lint]\nselcet = ['RDS']\n")
    with pytest.raises(ParseError, match="unknown lint setting 'selcet'"):
        find_config(tmp_path)
    (tmp_path / "remediate.toml").write_text("[lint\n")
    with pytest.raises(ParseError, match="not TOML"):
        find_config(tmp_path)


def test_rule_filter_prefixes() -> None:
    rules = RuleFilter(("RDS", "CEL004"), ("RDS00",))
    assert [r for r in ("RDS001", "RDS010", "CEL004", "CEL005") if rules.keeps(r)] == [
        "RDS010",
        "CEL004",
    ]
    assert split_ids(["cel004, rds", "X004"]) == ("CEL004", "RDS", "X004")
    with pytest.raises(UsageError):
        rule_filter(["ZZZ"], None, Path("/"), all_rules())


def test_suppression_reasons_are_kept_in_json_and_sarif(repo: Path) -> None:
    doc = json.loads(run_cli("lint", ".", "--format", "json", cwd=repo).stdout)
    [cel004] = [f for f in doc["findings"] if f["rule"] == "CEL004"]
    assert (cel004["suppressed"], cel004["justification"]) == (
        True,
        "this app also talks to RabbitMQ",
    )
    assert {f["justification"] for f in doc["findings"] if not f["suppressed"]} == {None}
    sarif = json.loads(run_cli("lint", "deploy", "--format", "sarif", cwd=repo).stdout)
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "CEL004"]
    assert result["suppressions"] == [
        {"kind": "inSource", "justification": "this app also talks to RabbitMQ"}
    ]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "deploy/celeryconfig.py", "uriBaseId": "%SRCROOT%"}
