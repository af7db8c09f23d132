"""Bad input is one clear error naming file and line, never an internal error, and found
before any host is contacted (issue 20 item 17)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
        "templates/celeryconfig.py.j2: renders a celery file its program would refuse, for host h1"
        in (result.stderr)
    )
    assert "127.0.0.9" not in result.stdout + result.stderr  # no host was contacted


@pytest.mark.parametrize(
    ("template", "old", "new", "reason"),
    [
        (
            "rabbitmq.conf.j2",
            "\nheartbeat = ",
            "\nheartbeat == = ",
            "line 3 of its output: heartbeat takes an integer, not '= = 60'",
        ),
        (
            "redis.conf.j2",
            "\ntcp-keepalive ",
            "\ntcp-keeplive ",
            "unknown directive 'tcp-keeplive': Redis refuses the file",
        ),
    ],
)
def test_a_template_typo_its_program_would_refuse_is_an_error_at_render_time(
    tmp_path: Path, template: str, old: str, new: str, reason: str
) -> None:
    """Issue 20 item 3: never written, found before any host is contacted."""
    project = _project(tmp_path)
    path = project / "templates" / template
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    result = _plan(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"templates/{template}: renders a" in result.stderr
    assert reason in result.stderr, result.stderr
    assert "127.0.0.9" not in result.stdout + result.stderr


def test_rabbitmq_integer_keys_are_checked_as_cuttlefish_reads_them() -> None:
    from remediate.formats import parse

    for text in (b"heartbeat = 60\n", b"heartbeat = -1\n", b"consumer_timeout = 1800000\n"):
        assert parse("rabbitmq", text, "rabbitmq.conf").problems == []
    for text in (b"heartbeat = = = 60\n", b"heartbeat = 60s\n", b"channel_max = lots\n"):
        [problem] = parse("rabbitmq", text, "rabbitmq.conf").problems
        assert "takes an integer" in problem.reason
    assert parse("rabbitmq", b"vm_memory_high_watermark.relative = 0.6\n", "x").problems == []
