"""RabbitMQ rules: the server heartbeat, refused lines, and the node's merged config at runtime."""

from __future__ import annotations

import pytest

from remediate.formats.base import Document
from remediate.rules import Facts, check, check_together
from tests.rules.scenarios import doc_of, load, only, rules_of


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("0", "RMQ001"),
        ("61", "RMQ001"),
        ("580", "RMQ001"),
        ("4", "RMQ002"),
        ("1", "RMQ002"),
        ("5", None),
        ("60", None),
    ],
)
def test_server_heartbeat(value: str, rule: str | None) -> None:
    findings = check(doc_of("rabbitmq", f"heartbeat = {value}\n", "rabbitmq.conf"))
    assert rules_of(findings) == ([rule] if rule else [])


def test_refused_line_keeps_its_column() -> None:
    [refused] = only(check(load("rabbitmq", "rabbitmq/heartbeat-off.conf")), "RMQ006")
    assert (refused.line, refused.column, refused.severity) == (5, 26, "error")


def node(*names: str) -> list[Document]:
    return [
        load("rabbitmq", name, f"/etc/rabbitmq/{name.removeprefix('rabbitmq/')}") for name in names
    ]


def test_runtime_rules_run_once_per_node() -> None:
    docs = node("rabbitmq/rabbitmq.conf", "rabbitmq/conf.d/20-heartbeat.conf")
    facts = Facts(beam_nofile_soft=1024, rabbitmq_live_heartbeat=60, rabbitmq_running=True)
    assert [rule for doc in docs for rule in rules_of(check(doc, facts))] == []
    findings = check_together(docs, facts)
    [fds] = only(findings, "RMQ004")
    assert fds.path == "/etc/rabbitmq/rabbitmq.conf" and "1024" in fds.message
    [pending] = only(findings, "RMQ005")
    assert pending.path == "/etc/rabbitmq/conf.d/20-heartbeat.conf" and pending.line == 2
    assert "heartbeat is 60" in pending.message and "heartbeat = 30" in pending.message


def test_conf_d_order_decides_the_effective_heartbeat() -> None:
    docs = node("rabbitmq/conf.d/20-heartbeat.conf", "rabbitmq/rabbitmq.conf")  # any order
    assert check_together(docs, Facts(rabbitmq_live_heartbeat=30)) == []


def test_default_heartbeat_when_no_file_sets_it() -> None:
    docs = [doc_of("rabbitmq", "listeners.tcp.default = 5672\n", "/etc/rabbitmq/rabbitmq.conf")]
    assert check_together(docs, Facts(rabbitmq_live_heartbeat=60)) == []
    [pending] = check_together(docs, Facts(rabbitmq_live_heartbeat=580))
    assert pending.rule == "RMQ005" and pending.line is None
    assert "default 60" in pending.message


def test_runtime_rules_silent_without_facts() -> None:
    assert check_together(node("rabbitmq/rabbitmq.conf"), Facts()) == []
    assert check_together(node("rabbitmq/rabbitmq.conf"), Facts(beam_nofile_soft=65536)) == []
