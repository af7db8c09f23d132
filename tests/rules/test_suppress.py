"""Inline suppressions: ``# remediate: ignore ID`` on the line or on a comment line above."""

from __future__ import annotations

from remediate.rules import check, check_together
from remediate.rules.suppress import ALL_RULES, suppressions
from tests.rules.scenarios import doc_of

BROKER = (
    "broker_url = 'redis://r:6379/0'\nbroker_transport_options = {'socket_keepalive': "
    "True, 'socket_keepalive_options': {}, 'socket_timeout': 30}\n"
)


def flags(kind: str, text: str, path: str = "") -> list[tuple[str, int | None, bool]]:
    return [(f.rule, f.line, f.suppressed) for f in check(doc_of(kind, text, path))]


def test_same_line_marker() -> None:
    text = BROKER + "broker_heartbeat = 10  # remediate: ignore CEL004\n"
    assert flags("celery", text) == [("CEL004", 3, True)]


def test_comment_line_above() -> None:
    text = (
        BROKER + "# remediate: ignore CEL004 -- kept for the AMQP migration\n"
        "broker_heartbeat = 10\n"
    )
    assert flags("celery", text) == [("CEL004", 4, True)]


def test_other_ids_do_not_suppress() -> None:
    text = BROKER + "broker_heartbeat = 10  # remediate: ignore CEL005, CEL006\n"
    assert flags("celery", text) == [("CEL004", 3, False)]


def test_bare_marker_suppresses_every_rule() -> None:
    text = "# remediate: ignore\nmaxmemory 1gb\n# REMEDIATE: Ignore\nmaxmemory-policy allkeys-lru\n"
    assert flags("redis", text) == [("RDS003", 4, True)]
    assert suppressions(doc_of("redis", text)) == {
        1: {ALL_RULES},
        2: {ALL_RULES},
        3: {ALL_RULES},
        4: {ALL_RULES},
    }


def test_code_line_above_does_not_speak_for_the_next_line() -> None:
    text = (
        BROKER.replace("'redis://r:6379/0'", "'redis://r:6379/0'  # remediate: ignore CEL004")
        + "broker_heartbeat = 10\n"
    )
    assert flags("celery", text) == [("CEL004", 3, False)]


def test_several_ids_with_commas_and_blanks() -> None:
    text = "# remediate: ignore RDS001,RDS002 rds005\ntimeout 300\n"
    assert flags("redis", text) == [("RDS001", 2, True)]


def test_systemd_semicolon_comments() -> None:
    path = "/etc/systemd/system/rabbitmq-server.service.d/limits.conf"
    text = "[Service]\n; remediate: ignore RMQ007\nLimitNOFILE=4096\n"
    assert flags("systemd", text, path) == [("RMQ007", 3, True)]
    assert flags("redis", "; remediate: ignore\ntimeout 300\n") == [
        ("RDS005", 1, False),
        ("RDS001", 2, False),
    ]


def test_every_kind_with_hash_comments() -> None:
    assert flags("limits", "# remediate: ignore LIM001\n* soft nofile 1024\n", "limits.conf") == [
        ("LIM001", 2, True)
    ]
    assert flags(
        "shell", "ulimit -n 1024  # remediate: ignore RMQ003\n", "/etc/default/rabbitmq-server"
    ) == [("RMQ003", 1, True)]
    assert flags("rabbitmq", "heartbeat = 0  # remediate: ignore RMQ001\n") == [("RMQ001", 1, True)]


def test_cross_findings_use_the_markers_of_their_file() -> None:
    celery = doc_of(
        "celery", "broker_url = 'amqp://r//'\nbroker_heartbeat = 120  # remediate: ignore X002\n"
    )
    rabbit = doc_of("rabbitmq", "heartbeat = 60\n", "rabbitmq.conf")
    [found] = check_together([celery, rabbit])
    assert (found.rule, found.suppressed) == ("X002", True)


def test_file_level_findings_are_not_suppressed_by_line_markers() -> None:
    from remediate.rules import Facts

    doc = doc_of("redis", "# remediate: ignore\nport 6379\n")
    [found] = check(doc, Facts(redis_nofile_hard=100))
    assert found.line is None and not found.suppressed
