"""Cross-component rules: what a celeryconfig, a redis.conf, a rabbitmq.conf and a unit say
together."""

from __future__ import annotations

import pytest

from remediate.formats.base import Document
from remediate.rules import check_together
from remediate.rules.cross_rules import negotiated_heartbeat
from tests.rules.scenarios import doc_of, load, only, rules_of

REDIS_BROKER = "broker_url = 'redis://redis-01:6379/0'\n"
AMQP_BROKER = "broker_url = 'amqp://rabbitmq-01//'\n"


def celery(text: str) -> Document:
    return doc_of("celery", text, "/srv/app/celeryconfig.py")


def redis(text: str) -> Document:
    return doc_of("redis", text, "/etc/redis/redis.conf")


def rabbit(text: str) -> Document:
    return doc_of("rabbitmq", text, "/etc/rabbitmq/rabbitmq.conf")


@pytest.mark.parametrize(
    ("options", "timeout", "fires"),
    [
        ("", "20", True),  # health_check_interval 25 (kombu's default) >= 20, no keepalive
        ("", "300", False),  # checked every 25 s: below the timeout
        ("", "0", False),  # no timeout
        ("{'health_check_interval': 0, 'socket_keepalive': True}", "300", True),
        ("{'socket_keepalive': True}", "20", False),
        ("{'health_check_interval': 10}", "20", False),
    ],
)
def test_redis_timeout_against_transport_options(options: str, timeout: str, fires: bool) -> None:
    text = REDIS_BROKER + (f"broker_transport_options = {options}\n" if options else "")
    findings = check_together([celery(text), redis(f"timeout {timeout}\n")])
    assert ("X001" in rules_of(findings)) is fires
    if fires:
        assert findings[0].path == "/srv/app/celeryconfig.py"
        assert f"timeout {timeout}, /etc/redis/redis.conf:1" in findings[0].message


def test_redis_timeout_needs_a_redis_broker() -> None:
    assert check_together([celery(AMQP_BROKER), redis("timeout 20\n")]) == []


@pytest.mark.parametrize(
    ("client", "server", "negotiated"),
    [(120, 60, 60), (120, 0, 120), (60, 580, 60), (0, 60, 0), (30, 60, 30)],
)
def test_py_amqp_negotiation(client: int, server: int, negotiated: int) -> None:
    assert negotiated_heartbeat(client, server) == negotiated


def test_server_heartbeat_overrides_the_client() -> None:
    [override] = check_together(
        [celery(AMQP_BROKER + "broker_heartbeat = 120\n"), rabbit("heartbeat = 60\n")]
    )
    assert override.rule == "X002" and override.line == 2
    assert "py-amqp negotiates 60 s" in override.message
    assert "/etc/rabbitmq/rabbitmq.conf:1" in override.message


def test_server_zero_keeps_the_client_value() -> None:
    assert (
        check_together(
            [celery(AMQP_BROKER + "broker_heartbeat = 120\n"), rabbit("heartbeat = 0\n")]
        )
        == []
    )


def test_defaults_on_both_sides_are_not_reported() -> None:
    assert check_together([celery(AMQP_BROKER), rabbit("listeners.tcp.default = 5672\n")]) == []
    [explicit] = check_together([celery(AMQP_BROKER), rabbit("heartbeat = 30\n")])
    assert "broker_heartbeat unset (Celery's default 120)" in explicit.message


def test_redis_broker_heartbeat_is_not_negotiated() -> None:
    assert "X002" not in rules_of(
        check_together(
            [celery(REDIS_BROKER + "broker_heartbeat = 10\n"), rabbit("heartbeat = 5\n")]
        )
    )


@pytest.mark.parametrize(
    ("maxclients", "limit", "fires"),
    [
        ("", "10032", False),
        ("", "10031", True),
        ("maxclients 20000\n", "10032", True),
        ("maxclients 20000\n", "1024:65536", False),
        ("maxclients 20000\n", "infinity", False),
    ],
)
def test_maxclients_against_the_redis_unit(maxclients: str, limit: str, fires: bool) -> None:
    unit = doc_of(
        "systemd",
        f"[Service]\nLimitNOFILE={limit}\n",
        "/etc/systemd/system/redis-server.service.d/limits.conf",
    )
    findings = check_together([redis("port 6379\n" + maxclients), unit])
    assert ("X003" in rules_of(findings)) is fires
    if fires:
        assert findings[0].path.endswith("limits.conf") and findings[0].line == 2


def test_units_of_other_services_are_ignored() -> None:
    unit = doc_of("systemd", "[Service]\nLimitNOFILE=1024\n", "/etc/systemd/system/nginx.service")
    assert check_together([redis("maxclients 20000\n"), unit]) == []


def test_fixture_host() -> None:
    docs = [
        load("celery", "celery/billing-redis.py"),
        load("redis", "redis/broker-drifted.conf"),
        load("systemd", "systemd/redis-server.service.d/limits.conf"),
    ]
    assert sorted(rules_of(check_together(docs))) == ["X001", "X003"]
    assert only(check_together(docs), "X001")[0].line == 12
