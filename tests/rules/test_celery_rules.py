"""Celery rules: real setting names per version, the styles Celery accepts, the broker scheme."""

from __future__ import annotations

import pytest

from remediate.model.plans import Finding
from remediate.rules import Facts, check
from tests.rules.scenarios import doc_of, load, only, rules_of


def lint(text: str, version: str | None = None, path: str = "celeryconfig.py") -> list[Finding]:
    return check(doc_of("celery", text, path), Facts(celery_version=version))


def by_line(findings: list[Finding], rule: str) -> dict[int, str]:
    """Line (0 for the file) -> message of each finding of ``rule``."""
    return {f.line or 0: f.message for f in only(findings, rule)}


# ---------------------------------------------------------------- the popular advice


def test_the_popular_advice_own_celeryconfig() -> None:
    findings = check(load("celery", "celery/popular-advice.py"))
    cel001 = by_line(findings, "CEL001")
    assert {
        line: message.split()[0 if "top-level" not in message else 2]
        for line, message in cel001.items()
    } == {
        11: "worker_heartbeat_interval",
        12: "worker_heartbeat_expire",
        18: "broker_connection_retry_delay",
        19: "broker_connection_retry_on_timeout",
        34: "visibility_timeout",
    }
    assert "broker_transport_options" in cel001[34]
    upper = {
        10: "BROKER_HEARTBEAT",
        35: "CELERY_REDIS_SOCKET_TIMEOUT",
        36: "CELERY_REDIS_SOCKET_CONNECT_TIMEOUT",
        37: "CELERY_REDIS_SOCKET_KEEPALIVE",
        38: "CELERY_REDIS_RETRY_ON_TIMEOUT",
        42: "CELERY_ACKS_LATE",
    }
    styles = {f.line: f.rule for f in findings if f.rule in ("CEL002", "CEL003")}
    assert styles == {
        10: "CEL002",
        35: "CEL003",
        36: "CEL003",
        37: "CEL003",
        38: "CEL003",
        42: "CEL002",
    }  # BROKER_HEARTBEAT, CELERY_ACKS_LATE: two spellings
    for line, name in upper.items():
        [style] = [f for f in findings if f.line == line and f.rule == styles[line]]
        assert name in style.message
    assert by_line(findings, "CEL004") == {
        9: "broker_heartbeat = 10 does nothing with the redis:// broker: the Redis transport "
        "has no heartbeats"
    }
    assert sorted(by_line(findings, "CEL011")) == [35, 36, 37, 38]
    assert sorted(by_line(findings, "CEL012")) == [31]
    assert set(rules_of(findings)) == {
        "CEL001",
        "CEL002",
        "CEL003",
        "CEL004",
        "CEL011",
        "CEL012",
        "CEL014",
    }  # CEL014: redis:// result backend


# ---------------------------------------------------------------- CEL001


def test_typo_gets_did_you_mean() -> None:
    findings = lint('broker_url = "redis://r:6379/0"\nbroker_hearbeat = 10\n')
    [typo] = only(findings, "CEL001")
    assert typo.line == 2 and typo.column == 1
    assert "did you mean broker_heartbeat?" in typo.message
    assert typo.fix == "rename it to broker_heartbeat"


def test_old_name_typo_in_old_style_file() -> None:
    [typo] = only(check(load("celery", "celery/old-style.py")), "CEL001")
    assert "CELERY_MAX_TASKS_PER_CHILD" in typo.message
    assert "did you mean CELERYD_MAX_TASKS_PER_CHILD (worker_max_tasks_per_child)?" in typo.message


@pytest.mark.parametrize(
    "text",
    [
        "OL_CONFIG = 'conf/openlibrary.yml'\nBROKER_URL = 'amqp://'\n",  # a project constant
        "SENTRY_DSN = 'https://k@sentry/3'\nCELERY_IMPORTS = ('a',)\n",
        "redbeat_redis_url = 'redis://r:6379/7'\nbroker_url = 'redis://r:6379/0'\n",  # extension
        "host = 'redis'\nbroker_url = f'redis://{host}:6379/0'\n",  # a helper variable
        "logger = logging.getLogger(__name__)\nbroker_url = 'amqp://'\n",  # an object
    ],
)
def test_names_that_are_not_meant_as_settings_are_left_alone(text: str) -> None:
    assert "CEL001" not in rules_of(lint(text))


def test_lower_case_unknown_names_are_no_ops() -> None:
    findings = lint("task_max_retries = 3\ntask_default_retry_delay = 300\n")
    assert sorted(by_line(findings, "CEL001")) == [1, 2]
    assert "not a Celery 5.7 setting" in by_line(findings, "CEL001")[1]


def test_judged_against_the_target_version() -> None:
    text = (
        "broker_url = 'amqp://'\nbroker_connection_retry_on_startup = True\n"
        "task_acks_on_failure = False\n"
    )
    assert rules_of(lint(text, "5.7")) == []
    newest_only = by_line(lint(text, "5.4"), "CEL001")
    assert list(newest_only) == [3] and "added later" in newest_only[3]
    assert sorted(by_line(lint(text, "5.2"), "CEL001")) == [2, 3]
    assert rules_of(lint(text, "5.7.3")) == []  # a patch release judges as its series
    assert rules_of(lint(text, "6.0")) == []  # newer than the data: the newest series


def test_unsupported_version_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Celery 4.3 is not supported"):
        lint("broker_url = 'amqp://'\n", "4.3")


def test_django_settings_only_celery_names_count() -> None:
    assert check(load("celery", "celery/django-settings.py")) == []
    findings = check(load("celery", "celery/django-typos.py"))
    cel001 = by_line(findings, "CEL001")
    assert "did you mean CELERY_BROKER_TRANSPORT_OPTIONS" in cel001[5]
    assert "belongs in broker_transport_options" in cel001[6]


def test_app_module_conf_writes_are_settings() -> None:
    findings = check(load("celery", "celery/app-module.py"))
    assert [(f.rule, f.line, f.column) for f in findings] == [("CEL001", 10, 5)]
    # ONCE (celery_once) is upper-case and no near miss; `timeout` is a module variable


# ---------------------------------------------------------------- CEL002 / CEL003


def test_old_style_file_gets_one_note() -> None:
    [note] = only(check(load("celery", "celery/old-style.py")), "CEL002")
    assert note.line == 2 and note.message.startswith("6 setting(s) use old upper-case names")
    assert "celery upgrade settings" in note.fix and "mixes styles" in note.fix


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        # new majority: the old names are errors
        ("broker_url = 'amqp://'\ntask_serializer = 'json'\nCELERY_ACKS_LATE = True\n", [3]),
        # old majority: the new names are errors
        ("BROKER_URL = 'amqp://'\nCELERY_TASK_SERIALIZER = 'json'\ntask_acks_late = True\n", [3]),
        # a tie goes to the new style
        ("broker_url = 'amqp://'\nCELERY_ACKS_LATE = True\n", [2]),
        # two spellings of one setting are not a mix
        ("broker_url = 'amqp://'\nBROKER_URL = 'amqp://'\n", []),
        # settings Celery reads with conf.get() are not counted as new names
        ("CELERY_ACKS_LATE = True\nredis_backend_health_check_interval = 10\n", []),
        # a namespace (Django) accepts any mix
        ("INSTALLED_APPS = []\nCELERY_BROKER_URL = 'amqp://'\nCELERYD_CONCURRENCY = 4\n", []),
    ],
)
def test_mixing_styles_as_detect_settings_decides(text: str, errors: list[int]) -> None:
    assert sorted(by_line(lint(text), "CEL003")) == errors


def test_mix_fix_names_the_majority_spelling() -> None:
    [error] = only(
        lint("BROKER_URL = 'amqp://'\nCELERYD_CONCURRENCY = 1\ntask_acks_late = True\n"), "CEL003"
    )
    assert error.fix == "rename it to CELERY_ACKS_LATE"
    assert "2 old, 1 new" in error.message


def test_app_module_under_a_namespace_may_mix() -> None:
    text = (
        "from celery import Celery\napp = Celery('p')\n"
        "app.conf.update(BROKER_URL='amqp://', task_acks_late=True)\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    )
    assert "CEL003" not in rules_of(lint(text))
    assert "CEL003" in rules_of(lint(text.replace(", namespace='CELERY'", "")))


# ---------------------------------------------------------------- the broker scheme


@pytest.mark.parametrize(
    ("url", "fires"),
    [
        ("'redis://r:6379/0'", True),
        ("os.environ.get('BROKER', 'rediss://r:6380/0')", True),
        ("f'redis://{os.environ[\"HOST\"]}:6379/0'", True),
        ("'sentinel://s1:26379;sentinel://s2:26379'", True),
        ("'amqp://guest@rabbit//'", False),
        ("os.environ['BROKER_URL']", False),  # unknown: silent
        ("'redis-sentinel://s:26379/0'", False),  # a third-party transport: unknown
    ],
)
def test_broker_heartbeat_with_redis(url: str, fires: bool) -> None:
    text = f"import os\nbroker_url = {url}\nbroker_heartbeat = 10\n"
    assert ("CEL004" in rules_of(lint(text))) is fires


def test_broker_url_through_another_name() -> None:
    text = "BROKER_URL = 'redis://r:6379/0'\nCELERY_BROKER_URL = BROKER_URL\nINSTALLED_APPS = []\n"
    assert "CEL005" in rules_of(lint(text))


def test_unix_socket_broker_needs_no_keepalive() -> None:
    findings = lint(
        "broker_url = 'redis+socket:///run/redis.sock'\n"
        "broker_transport_options = {'socket_timeout': 30}\n"
    )
    assert "CEL005" not in rules_of(findings)
    [blind] = only(lint("broker_url = 'redis+socket:///run/redis.sock'\n"), "CEL005")
    assert "socket_keepalive" not in blind.message and "socket_timeout is unset" in blind.message


def test_keepalive_without_options_uses_os_timers() -> None:
    [blind] = only(
        lint(
            "broker_url = 'redis://r'\nbroker_transport_options = "
            "{'socket_keepalive': True, 'socket_timeout': 30}\n"
        ),
        "CEL005",
    )
    assert "7200 s" in blind.message and blind.line == 2
    assert "socket_keepalive_options" in blind.fix


def test_transport_options_that_are_code_are_not_judged() -> None:
    assert "CEL005" not in rules_of(
        lint("broker_url = 'redis://r'\nbroker_transport_options = load_options()\n")
    )


@pytest.mark.parametrize(
    ("value", "fires"), [("None", True), ("0", True), ("2", True), ("10", False), ("60", False)]
)
def test_amqp_heartbeat_range(value: str, fires: bool) -> None:
    text = f"broker_url = 'pyamqp://rabbit//'\nbroker_heartbeat = {value}\n"
    assert ("CEL010" in rules_of(lint(text))) is fires


@pytest.mark.parametrize(
    ("retries", "message"),
    [(0, "no reconnection attempts at all"), (5, "about 30 s"), (10, "about 110 s")],
)
def test_max_retries_says_how_long_the_worker_survives(retries: int, message: str) -> None:
    [few] = only(lint(f"broker_connection_max_retries = {retries}\n"), "CEL007")
    assert message in few.message
    assert lint("broker_connection_max_retries = 11\n") == []


def test_retry_on_startup_by_version() -> None:
    quiet = "broker_url = 'amqp://'\n"
    assert "CEL008" in rules_of(lint(quiet, "5.3"))
    assert "CEL008" not in rules_of(lint(quiet, "5.5"))
    assert "CEL008" not in rules_of(lint(quiet, "5.2"))  # no such setting yet
    assert "CEL008" in rules_of(lint(quiet + "broker_connection_retry = False\n", "5.7"))


def test_acks_late_spelled_in_the_file_style() -> None:
    [twice] = only(check(load("celery", "celery/billing-redis.py")), "CEL009")
    assert twice.fix == "worker_cancel_long_running_tasks_on_connection_loss = True"
    [old] = only(lint("CELERY_ACKS_LATE = True\nBROKER_URL = 'amqp://'\n"), "CEL009")
    assert old.fix == "CELERYD_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True"
    assert "CEL009" not in rules_of(lint("task_acks_late = True\n", "5.0"))


def test_result_backend_settings_say_when_they_do_nothing() -> None:
    text = "broker_url = 'redis://r:6379/0'\nresult_backend = 'rpc://'\nredis_socket_timeout = 15\n"
    [note] = only(lint(text), "CEL011")
    assert "result_backend is rpc://, so it does nothing at all" in note.message
    assert "CEL011" not in rules_of(lint(text.replace("redis://", "amqp://")))
