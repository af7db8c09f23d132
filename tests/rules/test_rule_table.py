"""Every rule: one realistic file (or host) that triggers it, one compliant one that does not.
The table must cover RULES exactly, and RULES must hold DOMAIN.md's rule table as written."""

from __future__ import annotations

import re

import pytest

from remediate.model.facts import RedisInstance
from remediate.model.workers import PackageVersions, SocketFact, WorkerFact
from remediate.rules import RULES, Facts
from tests.rules.scenarios import DOMAIN, FIXTURES, Scenario, one, only, rules_of

C, R, Q, SH, SD, L = "celery", "redis", "rabbitmq", "shell", "systemd", "limits"
PL, SV = "python-lock", "supervisord"
OLD_LOCK, NEW_LOCK = "lock/requirements-redis.txt", "lock/requirements-current.txt"
OLD_WORKER = WorkerFact(
    4242,
    "prefork",
    PackageVersions(celery="5.6.3", kombu="5.6.2"),
    "amqp://app@rabbitmq-01:5672/app",
)
NEW_WORKER = WorkerFact(
    4242,
    "prefork",
    PackageVersions(celery="5.7.0", kombu="5.7.0"),
    "amqp://app@rabbitmq-01:5672/app",
)
DRIFTED, BROKER = "redis/broker-drifted.conf", "redis/broker.conf"
RABBIT = "rabbitmq/rabbitmq.conf"
LIVE_DRIFTED = {
    "timeout": "0",
    "tcp-keepalive": "0",
    "maxclients": "4064",
    "maxmemory": "2147483648",
    "requirepass": "other",
}
LIVE_BROKER = {
    "timeout": "0",
    "tcp-keepalive": "60",
    "maxclients": "10000",
    "maxmemory": "2147483648",
    "requirepass": "s3cret-orders",
    "save": "3600 1 300 100 60 10000",
}


def _worker(
    keepalive: bool,
    pool: str = "prefork",
    kombu: str = "5.7.0",
    url: str = "redis://redis-01:6379/0",
) -> WorkerFact:
    return WorkerFact(
        4242,
        pool,
        PackageVersions(celery="5.7.0", kombu=kombu),
        url,
        (SocketFact("10.0.0.5:6379", keepalive),),
    )


def _instance(config_file: str, pid: int = 4242) -> RedisInstance:
    """A running redis-server that runs from ``config_file`` (a fixture name or a path)."""
    path = str(FIXTURES / config_file) if not config_file.startswith("/") else config_file
    return RedisInstance(pid, "127.0.0.1:6379", path)


#: rule -> (trigger, compliant, a line the trigger's finding is on, or None for the file)
CASES: dict[str, tuple[Scenario, Scenario, int | None]] = {
    "CEL001": (one(C, "celery/popular-advice.py"), one(C, "celery/seed-redis.py"), 11),
    "CEL002": (one(C, "celery/old-style.py"), one(C, "celery/seed-amqp.py"), 2),
    "CEL003": (one(C, "celery/mixed-styles.py"), one(C, "celery/old-style.py"), 5),
    "CEL004": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-amqp.py"), 11),
    "CEL005": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 12),
    "CEL006": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 9),
    "CEL007": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 10),
    "CEL008": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 9),
    "CEL009": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 24),
    "CEL010": (one(C, "celery/cloudamqp.py"), one(C, "celery/seed-amqp.py"), 6),
    "CEL011": (one(C, "celery/popular-advice.py"), one(C, "celery/seed-redis.py"), 35),
    "CEL012": (one(C, "celery/billing-redis.py"), one(C, "celery/seed-redis.py"), 15),
    "CEL013": (one(C, "celery/reports-redis.py"), one(C, "celery/seed-redis.py"), 16),
    "CEL014": (one(C, "celery/popular-advice.py"), one(C, "celery/seed-redis.py"), 6),
    "CEL015": (one(C, "celery/solo-amqp.py"), one(C, "celery/seed-amqp.py"), 6),
    "CEL016": (
        one(C, "celery/seed-redis.py", workers=(_worker(False),)),
        one(C, "celery/seed-redis.py", workers=(_worker(True),)),
        10,
    ),
    "RDS001": (one(R, DRIFTED), one(R, BROKER), 8),
    "RDS002": (one(R, DRIFTED), one(R, BROKER), 11),
    "RDS003": (one(R, DRIFTED), one(R, BROKER), 27),
    "RDS004": (
        one(R, DRIFTED, redis_nofile_hard=4096, redis_live=LIVE_DRIFTED),
        one(R, BROKER, redis_nofile_hard=65536, redis_live=LIVE_BROKER),
        25,
    ),
    "RDS005": (one(R, DRIFTED), one(R, BROKER), 29),
    "RDS006": (one(R, DRIFTED, redis_live=LIVE_DRIFTED), one(R, BROKER, redis_live=LIVE_BROKER), 8),
    "RDS007": (one(R, DRIFTED, file_mode="0644"), one(R, BROKER, file_mode="0640"), 23),
    "RDS008": (one(R, "redis/open.conf"), one(R, BROKER), 3),
    "RDS009": (
        one(R, BROKER, redis_used_memory=2_000_000_000, redis_live=LIVE_BROKER),
        one(R, BROKER, redis_used_memory=900_000_000, redis_live=LIVE_BROKER),
        14,
    ),
    "RMQ001": (one(Q, "rabbitmq/heartbeat-off.conf"), one(Q, RABBIT), 3),
    "RMQ002": (one(Q, "rabbitmq/heartbeat-fast.conf"), one(Q, RABBIT), 2),
    "RMQ003": (one(SH, "shell/rabbitmq-server"), one(SH, "shell/rabbitmq-server-clean"), 7),
    "RMQ004": (one(Q, RABBIT, beam_nofile_soft=1024), one(Q, RABBIT, beam_nofile_soft=65536), None),
    "RMQ005": (
        Scenario(
            ((Q, RABBIT), (Q, "rabbitmq/conf.d/20-heartbeat.conf")),
            Facts(rabbitmq_live_heartbeat=60, rabbitmq_running=True),
        ),
        one(Q, RABBIT, rabbitmq_live_heartbeat=60, rabbitmq_running=True),
        2,
    ),
    "RMQ006": (one(Q, "rabbitmq/heartbeat-off.conf"), one(Q, RABBIT), 5),
    "RMQ008": (
        Scenario(((Q, "rabbitmq/consumer-timeout.conf"), (C, "celery/seed-amqp.py"))),
        Scenario(((Q, RABBIT), (C, "celery/seed-amqp.py"))),
        4,
    ),
    "RMQ009": (
        one(Q, "rabbitmq/partition-handling.conf", rabbitmq_version="4.3.0"),
        one(Q, RABBIT, rabbitmq_version="4.3.0"),
        3,
    ),
    "RMQ010": (one(SH, "shell/rabbitmq-env.conf"), one(SH, "shell/rabbitmq-server-clean"), 4),
    "PKG001": (one(PL, OLD_LOCK), one(PL, NEW_LOCK), 4),
    "PKG002": (
        Scenario(((C, "celery/sentinel-redis.py"), (PL, OLD_LOCK))),
        Scenario(((C, "celery/sentinel-redis.py"), (PL, NEW_LOCK))),
        4,
    ),
    "PKG003": (
        one(C, "celery/seed-amqp.py", workers=(OLD_WORKER,), rabbitmq_version="4.3.0"),
        one(C, "celery/seed-amqp.py", workers=(NEW_WORKER,), rabbitmq_version="4.3.0"),
        1,
    ),
    "PKG004": (one(PL, "lock/uv/uv.lock"), one(PL, NEW_LOCK), 28),
    "SYS002": (
        one(SD, "systemd/celery-worker.service"),
        one(SD, "systemd/celery-worker-always.service"),
        10,
    ),
    "RMQ007": (
        one(SD, "systemd/rabbitmq-server.service.d/limits.conf"),
        one(SD, "systemd/rabbitmq-server.service.d/limits-ok.conf"),
        2,
    ),
    "LIM001": (one(L, "limits/90-nofile.conf"), one(L, "limits/audio.conf"), 2),
    "LIM002": (one(L, "limits/90-nofile.conf"), one(L, "limits/audio.conf"), 5),
    "SYS001": (
        one(SD, "systemd/rabbitmq-server.service.d/broken.conf"),
        one(SD, "systemd/rabbitmq-server.service.d/limits-ok.conf"),
        2,
    ),
    "SHL001": (one(SH, "shell/redis-server.default"), one(SH, "shell/rabbitmq-server-clean"), 3),
    "X001": (
        Scenario(((C, "celery/billing-redis.py"), (R, DRIFTED))),
        Scenario(((C, "celery/seed-redis.py"), (R, DRIFTED))),
        12,
    ),
    "X002": (
        Scenario(((C, "celery/reporting-amqp.py"), (Q, RABBIT))),
        Scenario(((C, "celery/seed-amqp.py"), (Q, RABBIT))),
        3,
    ),
    "X003": (
        Scenario(((R, DRIFTED), (SD, "systemd/redis-server.service.d/limits.conf"))),
        Scenario(((R, BROKER), (SD, "systemd/redis-server.service.d/limits.conf"))),
        3,
    ),
    "X004": (
        one(C, "celery/seed-redis.py", path_idle_timeout=20),
        one(C, "celery/seed-redis.py", path_idle_timeout=350),
        13,
    ),
    "RDS010": (
        one(
            R, BROKER, redis_instances=(_instance(BROKER), _instance("/etc/redis/redis-6380.conf"))
        ),
        one(R, BROKER, redis_instances=(_instance(BROKER),)),
        None,
    ),
    "RDS011": (
        one(R, BROKER, redis_instances=(_instance("/etc/redis/redis-6380.conf"),)),
        one(R, BROKER, redis_instances=(_instance(BROKER),)),
        None,
    ),
    "PLB001": (
        one(R, BROKER, unmatched_paths=("/etc/redis/redis*.conf",)),
        one(R, BROKER, unmatched_paths=()),
        None,
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_triggers_on_a_realistic_file(rule: str) -> None:
    trigger, _, line = CASES[rule]
    found = only(trigger.run(), rule)
    assert found, f"{rule} did not fire"
    assert line in [f.line for f in found]
    info = RULES[rule]
    for f in found:
        assert f.kind == info.kind and f.severity in ("info", "warning", "error")
        assert f.message and f.fix and not f.suppressed


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_is_silent_on_a_compliant_file(rule: str) -> None:
    _, compliant, _ = CASES[rule]
    assert rule not in rules_of(compliant.run())


def _domain_table() -> list[tuple[str, str, str]]:
    rows = re.findall(
        r"^\| ([A-Z]{1,3}\d{3}) \| ([^|]+?) \| (\w+) \|", DOMAIN.read_text(), re.MULTILINE
    )
    return [(rule, kind, severity) for rule, kind, severity in rows]


#: DOMAIN.md rows whose rules have not landed yet: each must fail here until it exists (strict
#: xfail), so the table can never silently outrun the code. (Issue 14's rows have all landed.)
PENDING: set[str] = set()


def test_domain_md_table_is_read_whole() -> None:
    assert (
        len(_domain_table()) == 39
    )  # CEL001-016, RDS001-009, RMQ001-005/008/009, LIM001, PKG001-004, SYS002, X004


@pytest.mark.parametrize("row", _domain_table(), ids=lambda row: row[0])
def test_rules_hold_domain_md_table(
    row: tuple[str, str, str], request: pytest.FixtureRequest
) -> None:
    rule, kind, severity = row
    if rule in PENDING:
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="lands with the worker-side rules")
        )
    assert rule in RULES, rule
    assert RULES[rule].kind == kind.split()[0] and RULES[rule].severity == severity, rule


def test_own_rules_are_documented() -> None:
    domain = {rule for rule, _, _ in _domain_table()}
    own = set(RULES) - domain
    assert own == {
        "RMQ006",
        "RMQ007",
        "RMQ010",
        "LIM002",
        "SYS001",
        "SHL001",
        "X001",
        "X002",
        "X003",
        "RDS010",
        "RDS011",
        "PLB001",
    }
    assert all(RULES[rule].kind == "cross" for rule in own if rule.startswith("X"))
    for info in RULES.values():
        assert info.id and info.title and info.fix
        assert len(info.help) > 80, info.id  # SARIF help text: why it matters


def test_every_clean_seed_file_is_silent() -> None:
    for scenario in (
        one(C, "celery/seed-redis.py"),
        one(C, "celery/seed-amqp.py"),
        one(C, "celery/django-settings.py"),
        one(R, BROKER),
        one(Q, RABBIT),
        one(L, "limits/audio.conf"),
        one(SD, "systemd/rabbitmq-server.service.d/limits-ok.conf"),
        one(SD, "systemd/celery-worker-always.service"),
        one(SV, "supervisord/celery-ok.conf"),
        one(PL, NEW_LOCK),
        one(C, "celery/sentinel-redis.py"),
    ):
        assert scenario.run() == [], scenario


def test_instance_rules_name_what_runs_and_stay_silent_when_unsure() -> None:
    from remediate.rules import check_together
    from tests.rules.scenarios import load

    doc = load(R, BROKER, "/etc/redis/redis.conf")
    other = load(R, BROKER, "/etc/redis/redis-6380.conf")
    both = (
        RedisInstance(10, "127.0.0.1:6379", "/etc/redis/redis.conf"),
        RedisInstance(11, "127.0.0.1:6380", "/etc/redis/redis-6380.conf"),
    )
    assert rules_of(check_together([doc, other], Facts(redis_instances=both))) == []
    (unmanaged,) = check_together([doc], Facts(redis_instances=both))
    assert (unmanaged.rule, unmanaged.path) == ("RDS010", "/etc/redis/redis-6380.conf")
    assert "pid 11 on 127.0.0.1:6380" in unmanaged.message
    # an instance that could not be asked: RDS010 says so, and RDS011 stays silent (it may be
    # the one that uses the managed file)
    unasked = (RedisInstance(12, "127.0.0.1:6379", error="authentication failed"),)
    found = check_together([doc, other], Facts(redis_instances=unasked))
    assert rules_of(found) == ["RDS010"] and "authentication failed" in found[0].message
    # no redis-server runs at all: nothing to say about unused files (the live state says it)
    assert rules_of(check_together([doc], Facts(redis_instances=()))) == []
    # lint knows no instances
    assert rules_of(check_together([doc], Facts())) == []
    started_bare = (RedisInstance(13, "127.0.0.1:6379", ""),)
    found = check_together([doc], Facts(redis_instances=started_bare))
    assert sorted(rules_of(found)) == ["RDS010", "RDS011"]
    assert any("without a config file" in f.message for f in found)
