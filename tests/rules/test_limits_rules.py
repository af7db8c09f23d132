"""File-descriptor rules: limits.conf, systemd units and drop-ins, /etc/default shell files."""

from __future__ import annotations

import pytest

from remediate.rules import check
from tests.rules.scenarios import CORPUS, doc_of, load, only, rules_of


def test_nofile_rows_noted_once_per_domain() -> None:
    findings = only(check(load("limits", "limits/90-nofile.conf")), "LIM001")
    assert [(f.line, f.column) for f in findings] == [(2, 1), (4, 1)]
    assert findings[0].message.startswith("nofile 65536 for * reaches login sessions only")
    [split] = only(
        check(doc_of("limits", "@dev soft nofile 4096\n@dev hard nofile 8192\n", "limits.conf")),
        "LIM001",
    )
    assert "soft 4096, hard 8192 for @dev" in split.message


def test_limits_row_pam_skips() -> None:
    [skipped] = only(check(load("limits", "limits/90-nofile.conf")), "LIM002")
    assert skipped.line == 5 and "unlimitd" in skipped.message


@pytest.mark.parametrize(
    ("value", "fires"),
    [
        ("4096", True),
        ("65535", True),
        ("1024:524288", True),
        ("65536", False),
        ("65536:524288", False),
        ("infinity", False),
    ],
)
def test_rabbitmq_unit_limit(value: str, fires: bool) -> None:
    path = "/etc/systemd/system/rabbitmq-server.service.d/limits.conf"
    findings = check(doc_of("systemd", f"[Service]\nLimitNOFILE={value}\n", path))
    assert ("RMQ007" in rules_of(findings)) is fires
    if fires:
        assert (findings[0].line, findings[0].column) == (2, 13)


def test_unit_limit_of_other_services_is_not_rabbitmq_business() -> None:
    path = "/etc/systemd/system/redis-server.service.d/limits.conf"
    assert check(doc_of("systemd", "[Service]\nLimitNOFILE=4096\n", path)) == []


def test_systemd_line_ignored() -> None:
    [ignored] = check(load("systemd", "systemd/rabbitmq-server.service.d/broken.conf"))
    assert (ignored.rule, ignored.line) == ("SYS001", 2)


def test_ulimit_in_rabbitmq_default_file() -> None:
    [ignored] = check(load("shell", "shell/rabbitmq-server"))
    assert (ignored.rule, ignored.line, ignored.column) == ("RMQ003", 7, 1)
    assert "65536" in ignored.message and "LimitNOFILE" in ignored.fix
    debian = CORPUS / "shell" / "rabbitmq__rabbitmq-server__rabbitmq-server.default"
    assert check(doc_of("shell", debian.read_text(), str(debian))) == []  # commented out


def test_ulimit_elsewhere_is_not_rmq003() -> None:
    text = "ulimit -n 65536\n"
    assert check(doc_of("shell", text, "/etc/default/redis-server")) == []
    assert check(doc_of("shell", text, "/etc/rabbitmq/rabbitmq-env.conf")) == []


def test_shell_problems() -> None:
    findings = check(load("shell", "shell/rabbitmq-server-crlf"))
    assert rules_of(findings) == ["SHL001", "RMQ003"]
    assert "CRLF" in findings[0].message
