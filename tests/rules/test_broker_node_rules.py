"""RDS008, RDS009, RMQ008, RMQ009, RMQ010 and X004 on files written for each case."""

from __future__ import annotations

import pytest

from remediate.model.plans import Finding
from remediate.rules import Facts, check, check_together
from tests.rules.scenarios import doc_of, only


def redis(text: str, **facts: object) -> list[Finding]:
    return check(doc_of("redis", text, "redis.conf"), Facts(**facts))  # type: ignore[arg-type]


def together(files: list[tuple[str, str, str]], **facts: object) -> list[Finding]:
    docs = [doc_of(kind, text, path) for kind, text, path in files]
    return check_together(docs, Facts(**facts))  # type: ignore[arg-type]


# ---------------------------------------------------------------- RDS008


@pytest.mark.parametrize(
    ("text", "version", "fires"),
    [
        ("bind 0.0.0.0\nprotected-mode no\n", None, True),
        ("protected-mode no\n", None, True),  # no bind: every interface
        ("bind 127.0.0.1 -::1\nprotected-mode no\n", None, False),  # loopback only
        ("bind 10.0.0.5\n", None, False),  # 7.0+: protected mode whatever bind says
        ("bind 10.0.0.5\n", "6.2.14", True),  # <= 6.2: bind turns protected mode off
        ("bind 10.0.0.5\n", "7.0.0", False),
        ("", "6.2.14", False),  # no bind, protected mode on: refused from outside
        ("bind 0.0.0.0\nprotected-mode no\nrequirepass s3cret\n", None, False),
        ("bind 0.0.0.0\nprotected-mode no\nuser default on >s3cret ~* +@all\n", None, False),
        ("bind 0.0.0.0\nprotected-mode no\nuser default on nopass ~* +@all\n", None, True),
        ("bind 0.0.0.0\nprotected-mode no\nuser default off\n", None, False),
        ("bind 0.0.0.0\nprotected-mode no\naclfile /etc/redis/users.acl\n", None, False),
        ("bind 0.0.0.0\nprotected-mode no\nport 0\nunixsocket /run/redis.sock\n", None, False),
    ],
)
def test_reachable_without_password(text: str, version: str | None, fires: bool) -> None:
    found = only(redis(text, redis_version=version), "RDS008")
    assert bool(found) == fires, found
    if fires:
        assert found[0].severity == "error" and found[0].line is not None


def test_memory_nearly_full_with_noeviction_uses_live_values() -> None:
    text = "maxmemory 1gb\nmaxmemory-policy noeviction\n"
    [found] = only(redis(text, redis_used_memory=1_000_000_000), "RDS009")  # of 1 GiB
    assert found.line == 1 and "(93 %)" in found.message
    assert not only(redis(text, redis_used_memory=800_000_000), "RDS009")
    live = {"maxmemory": "4000000000", "maxmemory-policy": "noeviction"}
    assert not only(redis(text, redis_used_memory=950_000_000, redis_live=live), "RDS009")
    evicting = {"maxmemory": "1000000000", "maxmemory-policy": "allkeys-lru"}
    assert not only(redis(text, redis_used_memory=990_000_000, redis_live=evicting), "RDS009")
    assert not only(redis("maxmemory-policy noeviction\n", redis_used_memory=10**12), "RDS009")
    assert not only(redis(text), "RDS009")  # lint: no live memory


# ---------------------------------------------------------------- RMQ008 / RMQ009 / RMQ010

AMQP_LONG = 'broker_url = "amqp://u:p@rabbit//"\ntask_acks_late = True\ntask_time_limit = 7200\n'


def test_consumer_timeout_at_or_below_the_task_limit() -> None:
    conf = "heartbeat = 60\nconsumer_timeout = 3600000\n"
    found = only(
        together([("rabbitmq", conf, "rabbitmq.conf"), ("celery", AMQP_LONG, "celeryconfig.py")]),
        "RMQ008",
    )
    assert [(f.path, f.line) for f in found] == [("rabbitmq.conf", 2)]
    assert "7200" in found[0].message and "above 7200000" in found[0].fix
    default = only(
        together(
            [
                ("rabbitmq", "heartbeat = 60\n", "rabbitmq.conf"),
                ("celery", AMQP_LONG, "celeryconfig.py"),
            ]
        ),
        "RMQ008",
    )
    assert [(f.path, f.line) for f in default] == [("celeryconfig.py", 3)]
    assert "default consumer_timeout is 1800 s" in default[0].message
    enough = "consumer_timeout = 10800000\n"
    assert not only(
        together([("rabbitmq", enough, "rabbitmq.conf"), ("celery", AMQP_LONG, "celeryconfig.py")]),
        "RMQ008",
    )
    no_ack_late = AMQP_LONG.replace("True", "False")
    assert not only(
        together([("rabbitmq", "", "rabbitmq.conf"), ("celery", no_ack_late, "celeryconfig.py")]),
        "RMQ008",
    )


def test_consumer_timeout_on_rabbitmq_4_3_applies_to_quorum_queues_only() -> None:
    files = [
        ("rabbitmq", "consumer_timeout = 60000\n", "rabbitmq.conf"),
        ("celery", AMQP_LONG, "celeryconfig.py"),
    ]
    assert only(together(files, rabbitmq_version="4.2.1"), "RMQ008")
    assert not only(together(files, rabbitmq_version="4.3.0"), "RMQ008")
    quorum = [
        files[0],
        ("celery", AMQP_LONG + 'task_default_queue_type = "quorum"\n', "celeryconfig.py"),
    ]
    assert only(together(quorum, rabbitmq_version="4.3.0"), "RMQ008")


def test_the_default_consumer_timeout_depends_on_the_version() -> None:
    files = [
        ("rabbitmq", "heartbeat = 60\n", "rabbitmq.conf"),
        ("celery", AMQP_LONG.replace("7200", "1200"), "celeryconfig.py"),
    ]
    assert not only(together(files), "RMQ008")  # 30 min default from 3.8.17
    [old] = only(together(files, rabbitmq_version="3.8.16"), "RMQ008")  # 15 min then
    assert "default consumer_timeout is 900 s" in old.message
    assert not only(together(files, rabbitmq_version="3.8.14"), "RMQ008")  # no default


def test_conf_d_overrides_consumer_timeout() -> None:
    files = [
        ("rabbitmq", "consumer_timeout = 60000\n", "etc/rabbitmq/rabbitmq.conf"),
        ("rabbitmq", "consumer_timeout = 86400000\n", "etc/rabbitmq/conf.d/90-long.conf"),
        ("celery", AMQP_LONG, "srv/app/celeryconfig.py"),
    ]
    assert not only(together(files), "RMQ008")


def test_keys_the_running_version_ignores() -> None:
    text = (
        "cluster_partition_handling = pause_if_all_down\n"
        "cluster_partition_handling.pause_if_all_down.recover = autoheal\n"
        "mirroring_sync_batch_size = 4096\nlog.mirroring.level = debug\n"
    )
    doc = doc_of("rabbitmq", text, "rabbitmq.conf")
    assert sorted(f.line for f in only(check(doc, Facts(rabbitmq_version="4.3.0")), "RMQ009")) == [
        1,
        2,
        3,
    ]
    assert [f.line for f in only(check(doc, Facts(rabbitmq_version="4.0.9")), "RMQ009")] == [3]
    assert not only(check(doc, Facts(rabbitmq_version="3.13.7")), "RMQ009")
    assert not only(check(doc), "RMQ009")  # version unknown: silent


def test_ulimit_in_rabbitmq_env_conf_caps_the_node() -> None:
    text = "NODENAME=rabbit@mq-01\nulimit -n 4096\nulimit -n 65536\nulimit -n unlimited\n"
    found = only(check(doc_of("shell", text, "/etc/rabbitmq/rabbitmq-env.conf")), "RMQ010")
    assert [f.line for f in found] == [2] and "4096" in found[0].message
    assert not only(check(doc_of("shell", text, "/etc/default/rabbitmq-server")), "RMQ010")


# ---------------------------------------------------------------- X004

REDIS_BROKER = (
    'import socket\nbroker_url = "redis://r:6379/0"\nbroker_transport_options = {\n'
    "    'socket_keepalive': True,\n"
    "    'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60},\n"
    "    'socket_timeout': 30,\n}\n"
)


def x004(text: str, **facts: object) -> list[Finding]:
    return only(together([("celery", text, "celeryconfig.py")], **facts), "X004")


def test_path_idle_limit_against_redis_timers() -> None:
    assert not x004(REDIS_BROKER, path_idle_timeout=350)  # 25 s checks, 60 s keepalive
    assert not x004(REDIS_BROKER)  # no limit known: silent
    [short] = x004(REDIS_BROKER, path_idle_timeout=20)
    assert "health_check_interval 25 (kombu's default)" in short.message
    assert "keepalive idle time is 60" in short.message and short.line == 5
    os_timers = REDIS_BROKER.replace(
        "    'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60},\n", ""
    )
    [slow] = x004(os_timers, path_idle_timeout=240)
    assert "OS default 7200" in slow.message


def test_keepalive_alone_behind_a_proxy_that_counts_data() -> None:
    no_checks = REDIS_BROKER.replace(
        "    'socket_timeout': 30,\n", "    'health_check_interval': 0,\n"
    )
    assert not x004(no_checks, path_idle_timeout=600)
    [found] = x004(no_checks, path_idle_timeout=600, path_counts_data=True)
    assert "only TCP keepalive" in found.message


def test_path_idle_limit_against_amqp_heartbeats() -> None:
    amqp = 'broker_url = "amqp://u:p@rabbit//"\n'
    assert not x004(amqp, path_idle_timeout=240)  # 120 vs server 60: beats every 30 s
    [short] = x004(amqp, path_idle_timeout=25)
    assert "every 30 s" in short.message and short.line == 1
    slow = [
        ("celery", amqp + "broker_heartbeat = 600\n", "celeryconfig.py"),
        ("rabbitmq", "heartbeat = 0\n", "rabbitmq.conf"),
    ]
    [found] = only(together(slow, path_idle_timeout=240), "X004")
    assert "every 300 s" in found.message and found.line == 2
    off = amqp + "broker_heartbeat = 0\n"
    assert not x004(off, path_idle_timeout=240)
    assert (
        "heartbeats are off" in x004(off, path_idle_timeout=240, path_counts_data=True)[0].message
    )
