"""`remediate lint` on the worker side of a project (issue 14): lock files, supervisord and
systemd units of workers, rabbitmq-env.conf, and the options that tell lint what it cannot see
(--rabbitmq-version, --redis-version, --path-idle-timeout, --path-counts-data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remediate.lint.kinds import detect_kind, may_be_config
from remediate.lint.run import LintTargets, lint_paths
from tests.conftest import run_cli

CELERYCONFIG = """import socket
broker_url = "redis://redis-01:6379/0"
broker_connection_retry_on_startup = True
broker_connection_max_retries = None
broker_transport_options = {
    "socket_keepalive": True,
    "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10},
    "socket_timeout": 30,
}
"""
UNIT = """[Service]
ExecStart=/srv/app/venv/bin/celery -A app worker
Restart=on-failure
"""
SUPERVISOR = """[program:worker]
command=/srv/app/venv/bin/celery -A app worker
"""


def project(tmp_path: Path) -> Path:
    files = {
        "requirements.txt": "celery==5.6.3\nkombu==5.6.2\nredis==6.4.0\n",
        "app/celeryconfig.py": CELERYCONFIG,
        "deploy/systemd/celery-worker.service": UNIT,
        "deploy/supervisor/conf.d/worker.conf": SUPERVISOR,
        "deploy/rabbitmq/rabbitmq-env.conf": "NODENAME=rabbit@mq\nulimit -n 1024\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("path", "data", "kind"),
    [
        ("requirements.txt", b"celery\n", "python-lock"),
        ("requirements/prod.txt", b"celery\n", "python-lock"),
        ("dev-requirements.in", b"celery\n", "python-lock"),
        ("poetry.lock", b"", "python-lock"),
        ("Pipfile.lock", b"{}", "python-lock"),
        (
            "etc/supervisor/conf.d/celery.conf",
            b"[program:w]\ncommand=celery worker\n",
            "supervisord",
        ),
        ("etc/supervisord.d/celery.ini", b"[program:w]\ncommand=celery worker\n", "supervisord"),
        ("deploy/worker.conf", b"; worker\n[program:w]\ncommand=celery worker\n", "supervisord"),
        ("notes.txt", b"celery==5\n", None),
    ],
)
def test_new_kinds_are_detected(path: str, data: bytes, kind: str | None) -> None:
    assert detect_kind(path, data) == kind


def test_walking_finds_lock_files() -> None:
    assert may_be_config("poetry.lock") and may_be_config("requirements-dev.txt")
    assert not may_be_config("notes.txt")


def test_a_project_tree(tmp_path: Path) -> None:
    run = lint_paths([project(tmp_path)], cwd=tmp_path)
    kinds = dict(run.files)
    assert kinds["requirements.txt"] == "python-lock"
    assert kinds["deploy/supervisor/conf.d/worker.conf"] == "supervisord"
    found = {(f.finding.rule, f.finding.path, f.finding.line) for f in run.findings}
    assert ("PKG001", "requirements.txt", 2) in found  # kombu 5.6.2, broker from celeryconfig
    assert ("SYS002", "deploy/systemd/celery-worker.service", 3) in found
    assert ("SYS002", "deploy/supervisor/conf.d/worker.conf", 1) in found
    assert ("RMQ010", "deploy/rabbitmq/rabbitmq-env.conf", 2) in found
    assert not {rule for rule, _, _ in found} & {"X004", "RMQ009", "PKG003"}


def test_targets_reach_the_rules(tmp_path: Path) -> None:
    root = project(tmp_path)
    run = lint_paths([root], cwd=tmp_path, targets=LintTargets(path_idle_timeout=20))
    [x004] = [f.finding for f in run.findings if f.finding.rule == "X004"]
    assert x004.path == "app/celeryconfig.py" and "health_check_interval 25" in x004.message


def test_cli_options(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = run_cli(
        "lint",
        str(root),
        "--format",
        "json",
        "--path-idle-timeout",
        "20",
        "--rabbitmq-version",
        "4.3.0",
        "--redis-version",
        "7.2",
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    rules = {f["rule"] for f in json.loads(done.stdout)["findings"]}
    assert {"X004", "PKG001", "SYS002", "RMQ010"} <= rules
    bad = run_cli("lint", str(root), "--rabbitmq-version", "latest", cwd=tmp_path)
    assert bad.returncode == 64 and "--rabbitmq-version" in bad.stderr
    zero = run_cli("lint", str(root), "--path-idle-timeout", "0", cwd=tmp_path)
    assert zero.returncode == 64
