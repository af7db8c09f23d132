"""Bad input is one clear error naming file and line, never an internal error, and found
before any host is contacted (issue 20 item 17)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, run_cli

INVENTORY = (
    "[redis]\nh1 ansible_host=127.0.0.9\n[rabbitmq:children]\nredis\n[workers:children]\nredis\n"
)


def _project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.ini").write_text(INVENTORY)
    return tmp_path


def _plan(project: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("plan", "--timeout", "1", cwd=project)


def test_a_template_that_is_not_utf8_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    template = project / "templates" / "redis.conf.j2"
    lines = template.read_bytes().count(b"\n")
    template.write_bytes(template.read_bytes() + b"# caf\xe9 latin-1\n")
    result = _plan(project)
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr
    assert f"templates/redis.conf.j2:{lines + 1}: not UTF-8 text (byte 0xe9" in result.stderr
    assert "127.0.0.9" not in result.stderr  # no host was contacted


def test_a_nul_byte_in_an_ini_inventory_and_a_bad_host_name_are_clear_errors(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    hosts = project / "inventory" / "hosts.ini"
    hosts.write_bytes(INVENTORY.encode() + b"[extra]\nh\x002\n")
    result = _plan(project)
    assert result.returncode == 1 and "internal error" not in result.stderr, result.stderr
    assert "inventory/hosts.ini:8: Line holds a NUL byte" in result.stderr
    hosts.write_bytes(b"[redis]\nh\xff1 ansible_host=127.0.0.9\n")
    result = run_cli("plan", "--timeout", "1", "--format", "json", cwd=project)
    assert result.returncode == 1 and "internal error" not in result.stderr
    assert "inventory/hosts.ini:2: Line is not valid UTF-8" in result.stderr


def test_a_template_whose_output_cannot_be_parsed_fails_before_any_host_is_contacted(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    template = project / "templates" / "celeryconfig.py.j2"
    template.write_text(template.read_text() + "broker_pool_limit = (\n")
    result = _plan(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert (
        "templates/celeryconfig.py.j2: renders a celery file that cannot be parsed for host h1"
        in (result.stderr)
    )
    assert "127.0.0.9" not in result.stdout + result.stderr  # no host was contacted
