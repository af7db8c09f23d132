"""Redis rules: settings of server configs, refused lines of every flavor, runtime facts."""

from __future__ import annotations

import pytest

from remediate.model.plans import Finding
from remediate.rules import Facts, check
from tests.rules.scenarios import doc_of, load, only, rules_of


def lint(text: str, facts: Facts | None = None, path: str = "redis.conf") -> list[Finding]:
    return check(doc_of("redis", text, path), facts)


@pytest.mark.parametrize(
    ("text", "rule", "fires"),
    [
        ("timeout 300\n", "RDS001", True),
        ("timeout 0\n", "RDS001", False),
        ("port 6379\n", "RDS001", False),  # default 0
        ("tcp-keepalive 0\n", "RDS002", True),
        ("tcp-keepalive 600\n", "RDS002", True),
        ("tcp-keepalive 300\n", "RDS002", False),
        ("tcp-keepalive 60\n", "RDS002", False),
        ("port 6379\n", "RDS002", False),  # default 300
        ("maxmemory-policy volatile-lru\nmaxmemory 1gb\n", "RDS003", False),
    ],
)
def test_setting_thresholds(text: str, rule: str, fires: bool) -> None:
    assert (rule in rules_of(lint(text))) is fires


def test_evicting_policy_is_an_error_only_with_a_limit() -> None:
    [limited] = only(lint("maxmemory 2gb\nmaxmemory-policy allkeys-lru\n"), "RDS003")
    assert limited.severity == "error" and limited.line == 2
    [dormant] = only(lint("maxmemory-policy allkeys-lfu\n"), "RDS003")
    assert dormant.severity == "warning"
    [zero] = only(lint("maxmemory 0\nmaxmemory-policy allkeys-random\n"), "RDS003")
    assert zero.severity == "warning"


def test_sentinel_and_acl_files_are_not_judged_as_servers() -> None:
    sentinel = "port 26379\nsentinel monitor mymaster 127.0.0.1 6379 2\n"
    assert lint(sentinel, path="sentinel.conf") == []
    assert lint("user default on nopass ~* +@all\n", path="users.acl") == []


def test_refused_lines_of_every_flavor() -> None:
    [twice] = only(check(load("redis", "redis/users.acl")), "RDS005")
    assert (twice.line, twice.column) == (3, 6) and "same user" in twice.message
    [inline] = only(lint("timeout 0 # never\n"), "RDS005")
    assert inline.line == 1 and inline.severity == "error"


def test_maxclients_against_the_process_limit() -> None:
    [low] = only(lint("maxclients 20000\n", Facts(redis_nofile_hard=4096)), "RDS004")
    assert "20032 file descriptors" in low.message and "4096" in low.message
    assert "20032" in low.fix
    [default] = only(lint("port 6379\n", Facts(redis_nofile_hard=10000)), "RDS004")
    assert default.line is None and "maxclients (default) 10000" in default.message
    assert lint("port 6379\n", Facts(redis_nofile_hard=10032)) == []
    assert lint("maxclients 20000\n") == []  # no facts: silent


def test_live_maxclients_lowered() -> None:
    [lowered] = only(lint("maxclients 20000\n", Facts(redis_live={"maxclients": "4064"})), "RDS004")
    assert "live maxclients is 4064" in lowered.message
    assert "RDS006" not in rules_of(
        lint("maxclients 20000\n", Facts(redis_live={"maxclients": "4064"}))
    )


def test_live_values_compared_with_units_and_secrets_masked() -> None:
    facts = Facts(
        redis_live={
            "maxmemory": "2147483648",
            "timeout": "0",
            "requirepass": "live-secret",
            "appendonly": "yes",
        }
    )
    findings = lint("maxmemory 2gb\ntimeout 300\nrequirepass file-secret\nappendonly YES\n", facts)
    drift = {f.line or 0: f.message for f in only(findings, "RDS006")}
    assert sorted(drift) == [2, 3]
    assert "the file says 300, the running server 0" in drift[2]
    assert "secret" not in drift[3]


@pytest.mark.parametrize(
    ("mode", "fires"),
    [("0644", True), ("0604", True), ("0640", False), ("0600", False), (None, False)],
)
def test_secret_readable_by_others(mode: str | None, fires: bool) -> None:
    findings = lint("port 6379\nmasterauth s3cret\n", Facts(file_mode=mode))
    assert ("RDS007" in rules_of(findings)) is fires
    if fires:
        assert only(findings, "RDS007")[0].line == 2
    assert lint("port 6379\n", Facts(file_mode="0644")) == []  # no secret


def test_acl_file_passwords_are_secrets() -> None:
    findings = lint("user celery on >pw ~* +@all\n", Facts(file_mode="0644"), path="users.acl")
    assert rules_of(findings) == ["RDS007"]
