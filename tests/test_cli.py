"""The command line as a user meets it: help, version, usage errors, and the README staying true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.startswith("remediate ")
    result = run_cli("--help")
    assert result.returncode == 0
    for command in (
        "plan",
        "apply",
        "rollback",
        "runs",
        "facts",
        "audit",
        "inventory",
        "lint",
        "report",
        "verify",
    ):
        assert re.search(rf"^\s+{command}\b", result.stdout, re.MULTILINE), command


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--bogus"],
        ["plan", "--forks", "zero"],
        ["inventory"],
        ["plan", "--shard", "3/2"],
        ["plan", "--format", "yaml"],
        ["rollback"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_exit_64_never_2(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 64, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    a: {ansible_host: [1\n")
    result = run_cli("inventory", "-i", str(tmp_path / "hosts.yml"), "--list")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "hosts.yml:3" in result.stderr, result.stderr


def readme_commands() -> list[str]:
    """Every `remediate ...` command line the README shows in its code blocks."""
    lines = []
    for block in re.findall(r"(?:^    .*\n)+", README, re.MULTILINE):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("remediate ") and "[" not in line:
                lines.append(line.split("  #")[0].strip())
    return lines


def test_every_command_and_flag_in_the_readme_exists() -> None:
    synopsis = re.findall(r"^    remediate (\w+)\s+(.*)$", README, re.MULTILINE)
    assert synopsis, "the README lost its command synopsis"
    for command, rest in synopsis:
        if command == "report":
            command = "report merge"
        result = run_cli(*command.split(), "--help")
        assert result.returncode == 0, command
        for flag in re.findall(r"(--[a-z][a-z-]+)", rest):
            assert flag in result.stdout, (command, flag)
    select = re.search(r"SELECT = (.*?)\n\n", README, re.DOTALL)
    assert select
    plan_help = run_cli("plan", "--help").stdout
    for flag in re.findall(r"(--[a-z][a-z-]+|-[a-z]\b)", select.group(1)):
        assert flag in plan_help, flag


def test_readme_commands_parse() -> None:
    """Each concrete command line of the README is accepted by the parser (run with --help)."""
    for line in readme_commands():
        words = line.split()[1:]
        command = words[0] if words[0] != "report" else "report"
        if "|" in line or "&&" in line or "<" in line:
            continue
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "remediate"), *words, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, (line, result.stderr)
        assert command


def test_the_shared_corpus_is_found() -> None:
    """Corpus tests are parametrized over its files: without it they would silently not run."""
    from tests.paths import CORPUS, SHARED

    assert CORPUS.is_dir() and (SHARED / "DOMAIN.md").is_file(), (
        f"{CORPUS} not found: put shared/ beside the checkout or set REMEDIATE_SHARED"
    )
    assert len(list(CORPUS.rglob("*"))) > 10
