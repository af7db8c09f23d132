"""The shape of the package: one package per role, arrows pointing down, a pure core.

The import contracts themselves live in pyproject.toml ([tool.importlinter]); scripts/test
runs `lint-imports`, and so does this test, so a wrong arrow fails the suite either way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "remediate"
ROLES = (
    "api",
    "cli",
    "engine",
    "errors",
    "formats",
    "inventory",
    "lint",
    "model",
    "playbook",
    "plan",
    "remote",
    "report",
    "rules",
)


def test_import_contracts_are_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_pure_core_loads_no_ssh_and_no_engine() -> None:
    code = (
        "import remediate.lint, remediate.formats, remediate.rules, remediate.plan, "
        "remediate.report, remediate.model, sys; print(sorted(m for m in sys.modules "
        "if m.startswith(('paramiko', 'fabric', 'remediate.remote', 'remediate.engine'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_at_most_eight_modules_sit_beside_the_packages() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 8, modules
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert set(packages) | {m.removesuffix(".py") for m in modules} >= set(ROLES)


def test_each_package_says_in_one_line_what_it_is() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init} has no docstring"
        first = doc.splitlines()[0]
        assert first.endswith((".", ":")) or len(doc.splitlines()) == 1, (init, first)
        assert 20 < len(first) <= 120, (init, first)


def test_commands_compute_no_exit_code_of_their_own() -> None:
    """Exit codes come from report.exit: no command module compares statuses to pick one."""
    for module in sorted((PACKAGE / "cli").glob("*.py")):
        text = module.read_text()
        for literal in (
            "Exit(1)",
            "Exit(2)",
            "Exit(4)",
            "code = 1",
            "code = 4",
            "else 4",
            "else 1",
        ):
            if literal == "Exit(1)" and module.name in ("apply_cmd.py", "rollback_cmd.py"):
                continue  # a declined confirmation prompt: no run happened
            assert literal not in text, (module.name, literal)


def test_the_readme_api_example_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API: the fleet") : readme.index("## Layout")]
    block = "\n".join(line[4:] for line in section.splitlines() if line.startswith("    "))
    assert "api.select" in block and "api.plan" in block
    done = subprocess.run(
        [sys.executable, "-c", block],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("example changed ["), done.stdout
