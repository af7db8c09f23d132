"""The built wheel works outside the checkout: it carries the playbook, templates and example
(package data), `remediate init` writes an editable copy, and `remediate plan` runs from an
empty directory with the shipped defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediate import __version__

ROOT = Path(__file__).resolve().parents[1]
#: What a source distribution holds (MANIFEST.in and setup.py ship the last four as data).
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "remediate")
SHIPPED = ("playbooks", "templates", "inventory", "examples")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel built from a copy of the sources installed (no
    dependencies from the index: this test's own site-packages lends them, through a path
    line that does not run its .pth files, so the checkout's editable install is not seen)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in (*SOURCES, *SHIPPED):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    wheels = base / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(src)], check=True)
    (wheel,) = wheels.glob("remediate_celery-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield venv


def _remediate(
    venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "remediate"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def test_the_wheel_carries_its_defaults_and_reports_its_version(
    installed: Path, tmp_path: Path
) -> None:
    result = _remediate(installed, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"remediate {__version__} (Python 3.")
    assert "paramiko " in result.stdout
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import remediate; print(remediate.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert where.startswith(str(installed)), where  # the wheel's copy, not the checkout's
    data = Path(where.strip()).parent / "defaults"
    for name in SHIPPED:
        assert _tree(data / name) == _tree(ROOT / name), name
    assert (data / "playbooks" / "site.yml").read_bytes() == (
        ROOT / "playbooks" / "site.yml"
    ).read_bytes()


def _tree(top: Path) -> list[Path]:
    """Files and directories under ``top`` (pip byte-compiles the example celeryconfig.py:
    its __pycache__ is not part of what is shipped)."""
    return sorted(p.relative_to(top) for p in top.rglob("*") if "__pycache__" not in p.parts)


def test_init_then_plan_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    here = tmp_path / "ops"
    here.mkdir()
    first = _remediate(installed, "init", cwd=here)
    assert first.returncode == 0, first.stderr
    for name in ("playbooks/site.yml", "templates/redis.conf.j2", "inventory/hosts.yml"):
        assert (here / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert "[lint]" in (here / "remediate.toml").read_text()
    (here / "playbooks" / "site.yml").write_text("# edited\n")
    again = _remediate(installed, "init", cwd=here)
    assert again.returncode == 1
    assert "refusing to overwrite" in again.stderr and "playbooks" in again.stderr
    assert (here / "playbooks" / "site.yml").read_text() == "# edited\n"  # nothing written
    (here / "playbooks" / "site.yml").write_bytes((ROOT / "playbooks" / "site.yml").read_bytes())

    # the copy's own example: the host `example` is this machine, files under examples/host
    copy = _remediate(installed, "plan", "-l", "example", "--summary", "--no-color", cwd=here)
    assert copy.returncode == 0, copy.stderr
    assert "shipped" not in copy.stderr  # ./playbooks/site.yml and ./templates were used
    assert "timeout        300 → 0" in copy.stdout
    assert "1 host: 1 with changes" in copy.stdout

    # an empty directory with only an inventory: the shipped playbook and templates
    empty = tmp_path / "empty"
    (empty / "root" / "etc" / "redis").mkdir(parents=True)
    (empty / "root" / "etc" / "redis" / "redis.conf").write_text(
        "port 6379\ntimeout 300\ntcp-keepalive 0\n"
    )
    (empty / "hosts.yml").write_text(
        "all:\n  children:\n    redis:\n      hosts:\n        here:\n"
        f"          ansible_connection: local\n          remediate_root: {empty / 'root'}\n"
    )
    plan = _remediate(
        installed, "plan", "-i", "hosts.yml", "--summary", "--no-color", "--debug", cwd=empty
    )
    assert plan.returncode == 0, plan.stderr
    shipped = installed.glob("lib/python*/site-packages/remediate/defaults/playbooks/site.yml")
    assert f"using the shipped playbook {next(shipped)}" in plan.stderr
    assert "timeout        300 → 0" in plan.stdout
    assert "tcp-keepalive  0 → 60" in plan.stdout
    assert "here: ran remediate-gather: exit 0 in " in plan.stderr  # the --debug step log
    assert "here: planned 1 of 1 files to change" in plan.stderr
    assert sorted(p.name for p in empty.iterdir()) == ["hosts.yml", "root"]  # nothing written
