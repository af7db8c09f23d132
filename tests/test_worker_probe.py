"""The worker probe's pure readers: recorded output of two real workers (celery 5.3.6 and 5.7.0
from the shared test virtualenvs, run with ``--detach`` on a Debian machine), command lines,
cgroup lines and unit files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from remediate.model.workers import PackageVersions, SocketFact, Supervisor
from remediate.remote.worker_facts import (
    effective_restart,
    parse_celery_argv,
    parse_worker_probe,
    unit_from_cgroup,
)

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "workers-debian.txt"
OLD_VENV = "/opt/remediate-test-celery/b2534a0e0f14"
NEW_VENV = "/opt/remediate-test-celery/126c7006fdc6"


def test_recorded_workers_with_versions_sockets_and_keepalive() -> None:
    old, new = parse_worker_probe(RECORDED.read_bytes(), {16399})
    assert (old.pid, new.pid) == (14104, 14499)  # the pool child 14125 is not a worker of its own
    assert old.versions == PackageVersions("5.3.6", "5.3.7", "4.6.0", "5.4.2")
    assert new.versions == PackageVersions("5.7.0", "5.7.0", "8.1.0", "5.4.2")
    assert old.exe == new.exe == "/usr/bin/python3.11"  # /proc/PID/exe: the venv's link resolved
    assert old.interpreter == f"{OLD_VENV}/bin/python"
    assert old.site_packages == (f"{OLD_VENV}/lib/python3.11/site-packages",)
    assert (old.app, old.pool, old.concurrency, old.queues) == ("tasks", None, 1, ())
    assert (new.pool, new.concurrency, new.queues) == ("solo", None, ("a", "b"))
    assert old.cwd == "/tmp/wk-app" and old.uid == 0 and old.user == "root"
    assert len(old.sockets) == len(new.sockets) == 10
    assert {s.peer for s in old.sockets + new.sockets} == {"127.0.0.1:16399"}
    assert {s.keepalive_state for s in old.sockets} == {"off"}  # ss: no timer
    assert {s.keepalive_state for s in new.sockets} == {"on"}  # ss: timer:(keepalive,...)
    assert old.supervisor == Supervisor("none")


def test_connections_to_other_ports_are_not_broker_sockets() -> None:
    (old, _) = parse_worker_probe(RECORDED.read_bytes())  # 16399 is no broker port by default
    assert old.sockets == () and len(old.connections) == 10


def test_a_worker_under_systemd_gets_its_unit_and_restart_from_the_files() -> None:
    """No systemd runs in the test hosts: a recorded cgroup v2 line and unit files stand in."""
    text = RECORDED.read_bytes().split(b"@K ")[0]
    text = re.sub(rb"(@G [^\n]*\n)+", b"@G 0::/system.slice/celery-worker.service\n", text)
    text = text.replace(
        b"@S process_api\n",
        b"@S systemd\n@U /etc/systemd/system/celery-worker.service\n|[Unit]\n|Description=w\n"
        b"|[Service]\n|ExecStart=/opt/app/bin/celery -A tasks worker\n|Restart=always\n"
        b"@U /etc/systemd/system/celery-worker.service.d/zz-override.conf\n|[Service]\n|Restart=\n"
        b"@U /lib/systemd/system/celery-worker.service.d/10-no.conf\n|[Service]\n|Restart=on-failure\n",
    )
    (worker,) = parse_worker_probe(text)
    supervisor = worker.supervisor
    assert (supervisor.kind, supervisor.name, supervisor.read) == (
        "systemd",
        "celery-worker.service",
        True,
    )
    assert supervisor.restart is None  # zz-override.conf's empty Restart= resets it last
    assert supervisor.files[0][0] == "/etc/systemd/system/celery-worker.service"


@pytest.mark.parametrize(
    ("lines", "unit"),
    [
        (["0::/system.slice/celery.service"], "celery.service"),
        (["1:name=systemd:/system.slice/celery@2.service", "0::/"], "celery@2.service"),
        (["0::/system.slice/app.service/worker"], "app.service"),
        (["0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"], None),
        (["0::/"], None),
        (["0::/system.slice/cron.scope"], None),
    ],
)
def test_unit_from_cgroup(lines: list[str], unit: str | None) -> None:
    assert unit_from_cgroup(lines) == unit


@pytest.mark.parametrize(
    ("files", "restart"),
    [
        ([("u", b"[Service]\nRestart=always\n")], "always"),
        ([("u", b"[Service]\nExecStart=x\n")], None),
        ([("u", b"[Unit]\nRestart=always\n[Service]\n")], None),  # not in [Service]
        ([("u", b"[Service]\n#Restart=always\n")], None),
        (
            [("u", b"[Service]\nRestart=no\n"), ("d/b.conf", b"[Service]\nRestart=always\n")],
            "always",
        ),
        (
            [
                ("u", b""),
                ("/etc/d/b.conf", b"[Service]\nRestart=no\n"),
                ("/lib/d/a.conf", b"[Service]\nRestart=always\n"),
            ],
            "no",
        ),  # drop-ins apply in file-name order, whatever their directory
    ],
)
def test_effective_restart(files: list[tuple[str, bytes]], restart: str | None) -> None:
    assert effective_restart(files) == restart


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ("/v/bin/python", "/v/bin/celery", "-A", "proj", "worker", "-P", "solo", "-c", "4"),
            ("proj", "solo", 4, (), False),
        ),
        (
            (
                "python3",
                "-m",
                "celery",
                "--app=proj.celery",
                "worker",
                "--pool=threads",
                "-Q",
                "a,b",
            ),
            ("proj.celery", "threads", None, ("a", "b"), False),
        ),
        (
            ("celery", "-A", "p", "worker", "-Pgevent", "-c10", "--without-heartbeat"),
            ("p", "gevent", 10, (), True),
        ),
        (
            ("celery", "-A", "worker", "worker"),
            ("worker", None, None, (), False),
        ),  # app named worker
        (("celery", "worker", "-A", "late"), ("late", None, None, (), False)),
        (
            ("/usr/bin/python3", "-u", "-m", "celery", "-A", "p", "worker"),
            ("p", None, None, (), False),
        ),
        (
            ("[celeryd: w1@h:MainProcess] -active- (-A proj worker -P solo -c 2)",),
            ("proj", "solo", 2, (), False),
        ),  # setproctitle
    ],
)
def test_worker_command_lines(argv: tuple[str, ...], expected: tuple[object, ...]) -> None:
    command = parse_celery_argv(argv)
    assert command is not None
    found = (command.app, command.pool, command.concurrency, command.queues)
    assert (*found, command.without_heartbeat) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ("celery", "-A", "proj", "beat"),
        ("celery", "-A", "proj", "inspect", "ping"),
        ("/usr/bin/python3", "-m", "flower", "--broker", "redis://x/0"),
        ("python3", "/srv/app/worker_celery.py", "worker"),
        ("[celeryd: w1@h:ForkPoolWorker-1]",),
        ("celery", "multi", "start", "w1", "-A", "proj"),
    ],
)
def test_not_a_worker(argv: tuple[str, ...]) -> None:
    assert parse_celery_argv(argv) is None


def test_broker_url_on_the_command_line_loses_its_password() -> None:
    output = (
        b"@W 7 1 1000 celery\n@E /usr/bin/python3.11\n/srv\n\n"
        b"@A /usr/bin/python3\0/usr/bin/celery\0-b\0amqp://u:s3cret@rabbit:5672//\0worker\0\n"
        b"@S bash\n@T\n"
    )
    (worker,) = parse_worker_probe(output)
    assert worker.broker_url == "amqp://rabbit:5672//"
    assert not any("s3cret" in a for a in worker.argv)


def test_timer_hidden_by_a_retransmit_is_unknown_not_off() -> None:
    output = (
        b"@W 7 1 0 celery\n@E /usr/bin/python3.11\n/\nsocket:[5]\nsocket:[6]\n\n"
        b"@A celery\0worker\0\n@T\n"
        b"0100007F:A000 0100007F:18EB 01 5\n"
        b"0100007F:A001 0100007F:18EB 00 6\n"
    )
    (worker,) = parse_worker_probe(output)
    assert [(s.timer, s.keepalive_state) for s in worker.sockets] == [
        ("retransmit", "unknown"),
        ("none", "off"),
    ]
    assert worker.sockets[0] == SocketFact("127.0.0.1:6379", False, "127.0.0.1:40960", "retransmit")


def test_a_worker_whose_fds_cannot_be_read_has_unknown_connections() -> None:
    output = b"@W 7 1 999 celery\n@F unreadable\n@E \n\n\n@A celery\0worker\0\n@T\n"
    (worker,) = parse_worker_probe(output)
    assert not worker.connections_read and worker.sockets == ()


def test_a_worker_under_supervisord_names_its_program() -> None:
    output = (
        b"@W 7 3 0 celery\n@E /usr/bin/python3.11\n/srv\n\n@A celery\0-A\0p\0worker\0\n"
        b"@G 0::/system.slice/supervisor.service\n@S supervisord\n"
        b"@N SUPERVISOR_PROCESS_NAME=celery-default\n@T\n"
    )
    (worker,) = parse_worker_probe(output)
    assert worker.supervisor == Supervisor(
        "supervisord", "celery-default"
    )  # not supervisor.service
