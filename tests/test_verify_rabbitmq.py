"""`remediate verify` against a real RabbitMQ node in a fleet host: the canary's AMQP
connection negotiates the heartbeat the app's file configures, and it consumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.celery_env import CURRENT, celery_python
from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import fleet_playbook, write

CELERYCONFIG = """\
broker_url = "amqp://guest:guest@{address}:5672//"
broker_heartbeat = 10
broker_connection_retry_on_startup = True
"""


@pytest.fixture(scope="module")
def rabbit_host() -> Iterator[Fleet]:
    with Fleet(1, subnet=73) as fleet:
        fleet.hosts[0].start_rabbitmq()
        yield fleet


def test_an_amqp_canary_negotiates_the_configured_heartbeat_and_consumes(
    rabbit_host: Fleet, tmp_path: Path
) -> None:
    host = rabbit_host.hosts[0]
    write(host, "/srv/app/celeryconfig.py", CELERYCONFIG.format(address=host.address), 0o640)
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.ini").write_text(
        f"[workers]\n{host.name} ansible_host={host.address} ansible_user=root "
        f"ansible_ssh_private_key_file={rabbit_host.client_key} "
        f"celery_python={celery_python(CURRENT)}\n"
    )
    subprocess_templates(tmp_path)
    result = run_cli(
        "verify",
        "--idle",
        "4",
        "--budget",
        "30",
        "--format",
        "json",
        env=rabbit_host.env(),
        cwd=tmp_path,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "guest:guest" not in result.stdout
    doc = json.loads(result.stdout)
    verified = doc["hosts"][0]
    assert verified["status"] == "pass", verified
    assert verified["options"]["broker_heartbeat"] == "10"
    assert verified["broker"]["heartbeat_seconds"] == 10, verified["broker"]
    assert verified["broker"]["connections"] >= 1
    assert verified["left_behind"] == []
    queues = host.exec(["rabbitmqctl", "-q", "list_queues", "name"]).stdout.decode()
    assert "remediate.verify" not in queues


def subprocess_templates(directory: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    (directory / "templates").mkdir()
    for template in (root / "templates").iterdir():
        (directory / "templates" / template.name).write_bytes(template.read_bytes())
    (directory / "playbooks").mkdir()
    (directory / "playbooks" / "site.yml").write_text(fleet_playbook())
