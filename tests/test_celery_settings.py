"""Celery's real setting names per version: the generated data, its API, and the generator."""

from __future__ import annotations

import ast
import datetime
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from remediate.formats import celery_settings as cs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "remediate" / "data" / "celery_settings.json"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_celery_settings", ROOT / "scripts" / "gen_celery_settings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- the data --------------------------------------------------------------------------


def test_data_covers_every_supported_series_with_its_release() -> None:
    data = json.loads(DATA.read_text())
    assert tuple(data["versions"]) == cs.VERSIONS and cs.NEWEST == "5.7"
    releases = {v: data["versions"][v]["release"] for v in cs.VERSIONS}
    assert releases["4.4"] == "4.4.7" and releases["5.7"].startswith("5.7.")
    assert all(releases[v].startswith(v + ".") for v in cs.VERSIONS)


def test_data_file_is_in_the_generators_stable_layout() -> None:
    text = DATA.read_text()
    assert generator().render_json(json.loads(text)) == text


@pytest.mark.parametrize(
    "name",
    [
        "broker_heartbeat",
        "broker_transport_options",
        "broker_connection_retry",
        "broker_connection_max_retries",
        "task_acks_late",
        "worker_concurrency",
        "result_backend",
        "redis_socket_timeout",
        "visibility_timeout",
    ],
)
def test_known_names(name: str) -> None:
    assert cs.is_setting(name) is (name != "visibility_timeout")  # only a transport option


@pytest.mark.parametrize(
    "name",
    [
        "broker_connection_retry_delay",
        "broker_connection_retry_on_timeout",
        "worker_heartbeat_interval",
        "worker_heartbeat_expire",
        "BROKER_HEARTBEAT",
        "CELERY_BROKER_HEARTBEAT",
    ],
)
def test_popular_names_that_are_not_settings(name: str) -> None:
    assert not cs.is_setting(name)


def test_documented_conf_get_settings_are_real_names() -> None:
    for name in (
        "redis_backend_health_check_interval",
        "redis_client_name",
        "result_backend_thread_safe",
        "override_backends",
        "worker_logfile",
    ):
        assert cs.is_setting(name), name
    assert cs.default("result_backend_thread_safe") is False
    assert not cs.is_setting("redis_client_name", "5.5")  # documented and read from 5.6 on
    # read from result_backend_transport_options, not from the configuration
    assert not cs.is_setting("result_chord_ordered")


def test_version_differences() -> None:
    for name in ("task_acks_on_failure", "task_acks_on_timeout", "broker_pool_acquire_timeout"):
        assert cs.is_setting(name, "5.7") and not cs.is_setting(name, "5.4"), name
    assert cs.is_setting("broker_connection_retry_on_startup", "5.3")
    assert not cs.is_setting("broker_connection_retry_on_startup", "5.2")
    assert cs.is_setting("worker_cancel_long_running_tasks_on_connection_loss", "5.1")
    assert not cs.is_setting("worker_cancel_long_running_tasks_on_connection_loss", "5.0")
    assert cs.is_setting("riak_backend_settings", "4.4")
    assert not cs.is_setting("riak_backend_settings")
    assert cs.names("5.4") < cs.names("5.7") and len(cs.names("4.4")) > 150


def test_versions_are_matched_by_series() -> None:
    assert cs.is_setting("task_acks_on_failure", "5.7.0")
    assert cs.is_setting("task_acks_on_failure", "6.1")  # newer than known: judged as NEWEST
    with pytest.raises(ValueError, match="not supported"):
        cs.is_setting("broker_url", "3.1")
    with pytest.raises(ValueError, match="not a Celery version"):
        cs.is_setting("broker_url", "five")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BROKER_HEARTBEAT", "broker_heartbeat"),
        ("CELERY_ACKS_LATE", "task_acks_late"),
        ("CELERYD_CONCURRENCY", "worker_concurrency"),
        ("CELERY_REDIS_SOCKET_TIMEOUT", "redis_socket_timeout"),
        ("CELERY_TASK_RESULT_EXPIRES", "result_expires"),
        ("CELERYBEAT_SCHEDULE", "beat_schedule"),
        ("CELERY_RESULT_BACKEND", "result_backend"),
        ("CELERY_RESULT_DBURI", "database_url"),
        ("BROKER_CONNECTION_RETRY_ON_STARTUP", "broker_connection_retry_on_startup"),
        ("CELERY_TASK_SERIALIZER", "task_serializer"),
        ("ENABLE_UTC", "enable_utc"),
    ],
)
def test_old_and_new_names(old: str, new: str) -> None:
    assert cs.new_name(old) == new and cs.old_name(new) == old and cs.is_old_name(old)


def test_names_that_have_no_old_or_new_form() -> None:
    assert cs.new_name("CELERY_ENABLE_UTC") is None  # the old name is ENABLE_UTC
    assert cs.new_name("CELERY_BROKER_URL") is None  # namespaced, not old
    assert cs.old_name("redis_backend_health_check_interval") is None  # read with conf.get
    assert not cs.is_old_name("CELERY_ACKS_ON_FAILURE", "5.4")


def test_defaults() -> None:
    assert cs.default("broker_heartbeat") == 120
    assert cs.default("broker_connection_max_retries") == 100
    assert cs.default("broker_connection_timeout") == 4
    assert cs.default("broker_connection_retry_on_startup") is None
    assert cs.default("result_expires") == datetime.timedelta(days=1)
    assert cs.default("result_backend_max_retries") == float("inf")
    assert cs.default("accept_content", "4.4") == ["json"]
    assert cs.default("accept_content") == ("json",)
    assert cs.default("worker_concurrency", "4.4") == 0 and cs.default("worker_concurrency") is None
    assert cs.setting_type("broker_transport_options") == "dict"
    assert cs.default("no_such_setting") is None and cs.setting_type("no_such_setting") is None


def test_dict_settings() -> None:
    assert {
        "broker_transport_options",
        "result_backend_transport_options",
        "redis_backend_use_ssl",
    } <= cs.dict_settings()
    assert "broker_url" not in cs.dict_settings()


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("broker_hearbeat", "broker_heartbeat"),
        ("broker_conection_retry", "broker_connection_retry"),
        ("broker_transport_option", "broker_transport_options"),
        ("task_ack_late", "task_acks_late"),
        ("BROKER_HEARTBEET", "BROKER_HEARTBEAT"),
        ("CELERY_BROKER_HEARTBEET", "CELERY_BROKER_HEARTBEAT"),
        ("broker_connection_retry_delay", "broker_connection_retry"),
    ],
)
def test_suggest(typo: str, meant: str) -> None:
    assert cs.suggest(typo) == meant


def test_suggest_nothing_for_real_or_far_names() -> None:
    assert cs.suggest("broker_heartbeat") is None and cs.suggest("flower_port") is None
    assert cs.suggest("task_acks_on_failur", "5.4") != "task_acks_on_failure"


def test_namespaced() -> None:
    assert cs.namespaced("CELERY_BROKER_URL") == "broker_url"
    assert cs.namespaced("CELERY_TASK_ACKS_LATE") == "task_acks_late"
    assert cs.namespaced("CELERY_ACKS_LATE") is None  # an old name, not a namespaced one
    assert cs.namespaced("BROKER_URL") is None and cs.namespaced("celery_broker_url") is None
    assert cs.namespaced("APP_BROKER_URL", namespace="APP") == "broker_url"
    assert cs.namespaced("CELERY_TASK_ACKS_ON_TIMEOUT", version="5.4") is None


# -- name styles (the one place the format asks) ---------------------------------------


@pytest.mark.parametrize(
    ("keys", "style"),
    [
        (["broker_url", "result_backend"], "new"),
        (["BROKER_URL", "CELERYD_CONCURRENCY", "result_backend"], "old"),
        (["BROKER_URL", "result_backend"], "new"),  # a tie goes to the new style, as in Celery
        (["CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_ACKS_LATE"], "django"),
        (["CELERY_BROKER_URL", "result_backend", "accept_content", "task_serializer"], "new"),
        (["BROKER_URL", "CELERY_ENABLE_UTC", "CELERY_IGNORE_RESULT", "CELERYD_LOG_FORMAT"], "old"),
        (["INSTALLED_APPS", "DEBUG"], "new"),
    ],
)
def test_detect_style(keys: list[str], style: str) -> None:
    assert cs.detect_style(keys) == style


def test_canonical_spell_and_precedence() -> None:
    assert cs.canonical("BROKER_HEARTBEAT") == "broker_heartbeat"
    assert cs.canonical("CELERY_BROKER_HEARTBEAT") == "broker_heartbeat"
    assert cs.canonical("CELERY_RESULT_BACKEND", "django") == "result_backend"
    assert cs.canonical("riak_backend_settings") == "riak_backend_settings"  # any version
    assert cs.canonical("INSTALLED_APPS") is None and cs.canonical("visibility_timeout") is None
    assert cs.spell("task_acks_late", "old") == "CELERY_ACKS_LATE"
    assert cs.spell("task_acks_late", "django") == "CELERY_TASK_ACKS_LATE"
    no_old_name = "redis_backend_health_check_interval"
    assert cs.spell(no_old_name, "old") == no_old_name
    # Celery reads the new name before the old one, and the namespaced key first under Django
    assert cs.precedence("broker_heartbeat", "broker_heartbeat", "old") == 0
    assert cs.precedence("BROKER_HEARTBEAT", "broker_heartbeat", "old") == 1
    assert cs.precedence("CELERY_BROKER_HEARTBEAT", "broker_heartbeat", "django") == 0
    assert cs.precedence("BROKER_HEARTBEAT", "broker_heartbeat", "django") == 2


# -- the generator's analysis, on snippets of Celery's own sources ---------------------

DEFAULTS_SNIPPET = '''
from datetime import timedelta
DEFAULT_POOL = 'prefork'
if is_jython:
    DEFAULT_POOL = 'solo'
DEFAULT_FMT = """
    [%(asctime)s] %(message)s
""".strip()
OLD_NS = {'celery_{0}'}
OLD_NS_WORKER = {'celeryd_{0}'}

def old_ns(ns):
    return {f'{ns}_{{0}}'}

NAMESPACES = Namespace(
    accept_content=Option(('json',), type='list', old=OLD_NS),
    enable_utc=Option(True, type='bool'),
    beat=Namespace(
        __old__={'celerybeat_{0}'},
        cron_starting_deadline=Option(None, type=int),
    ),
    broker=Namespace(
        heartbeat=Option(120, type='int'),
        native_delayed_delivery_queue_type=Option(default='quorum', type='string'),
    ),
    redis=Namespace(
        __old__=old_ns('celery_redis'),
        socket_timeout=Option(120.0, type='float'),
    ),
    result=Namespace(
        __old__=old_ns('celery_result'),
        expires=Option(timedelta(days=1), type='float', old={'celery_task_result_expires'}),
        backend_max_retries=Option(float("inf"), type='float'),
    ),
    task=Namespace(
        __old__=OLD_NS,
        acks_on_failure_or_timeout=Option(True, type='bool', deprecate_by='6.0'),
    ),
    worker=Namespace(
        __old__=OLD_NS_WORKER,
        pool=Option(DEFAULT_POOL),
        log_format=Option(DEFAULT_FMT),
        concurrency=Option(None, type='any'),
    ),
)
'''


def test_parse_defaults_without_importing_celery() -> None:
    settings, namespaces = generator().parse_defaults(DEFAULTS_SNIPPET)
    got = {name: info.as_json() for name, info in settings.items()}
    assert got["accept_content"] == {
        "default": "('json',)",
        "type": "list",
        "old": ["CELERY_ACCEPT_CONTENT"],
        "source": "defaults",
    }
    assert got["enable_utc"]["old"] == ["ENABLE_UTC"]
    assert got["beat_cron_starting_deadline"] == {
        "default": None,
        "type": "int",
        "old": ["CELERYBEAT_CRON_STARTING_DEADLINE"],
        "source": "defaults",
    }
    assert got["broker_heartbeat"]["old"] == ["BROKER_HEARTBEAT"]
    assert got["broker_native_delayed_delivery_queue_type"]["default"] == "'quorum'"
    assert got["redis_socket_timeout"]["old"] == ["CELERY_REDIS_SOCKET_TIMEOUT"]
    assert got["result_expires"]["default"] == "timedelta(days=1)"
    assert got["result_expires"]["old"] == ["CELERY_TASK_RESULT_EXPIRES"]
    assert got["result_backend_max_retries"]["default"] == "float('inf')"
    assert got["task_acks_on_failure_or_timeout"]["old"] == ["CELERY_ACKS_ON_FAILURE_OR_TIMEOUT"]
    assert got["task_acks_on_failure_or_timeout"]["deprecate_by"] == "6.0"
    assert got["worker_pool"]["default"] == "'prefork'"  # the unconditional assignment
    assert got["worker_log_format"]["default"] == "'[%(asctime)s] %(message)s'"
    assert got["worker_concurrency"]["old"] == ["CELERYD_CONCURRENCY"]
    assert namespaces["worker"] == {"old": ["CELERYD_{0}"], "prefix": "worker_"}
    assert namespaces["broker"] == {"old": [], "prefix": "broker_"}


def test_conf_reads_found_in_package_code() -> None:
    tree = ast.parse(
        "conf = self.app.conf\n"
        "thread_safe = conf.get('result_backend_thread_safe', False)\n"
        "_get = self.app.conf.get\n"
        "interval = _get('redis_backend_health_check_interval')\n"
        "override = self._conf['override_backends']\n"
        "limit = app.conf.broker_pool_limit\n"
        "other = options.get('result_chord_ordered', True)\n"
        "name = getattr(self.app.conf, 'worker_state_db', None)\n"
    )
    reads = generator().conf_reads(tree)
    assert reads["result_backend_thread_safe"] == "False"
    assert reads["redis_backend_health_check_interval"] is None
    assert {"override_backends", "broker_pool_limit", "worker_state_db"} <= set(reads)
    assert "result_chord_ordered" not in reads  # a transport option read, not a setting


def test_daemon_settings_and_analyse_release() -> None:
    sources = {
        "celery/app/defaults.py": DEFAULTS_SNIPPET,
        "celery/bin/base.py": (
            "class DaemonOption(CeleryOption):\n"
            "    def daemon_setting(self, ctx, opt, value):\n"
            "        return value or getattr(ctx.obj.app.conf,\n"
            '                                f"{ctx.command.name}_{self.name}", None)\n'
            "class CeleryDaemonCommand(CeleryCommand):\n"
            "    def __init__(self):\n"
            '        self.params.extend((DaemonOption("--logfile", "-f"),\n'
            '                            DaemonOption("--pidfile")))\n'
        ),
        "celery/bin/worker.py": (
            "@click.command(cls=CeleryDaemonCommand)\ndef worker(ctx):\n    pass\n"
        ),
        "celery/backends/base.py": "x = conf.get('result_backend_thread_safe', False)\n"
        "y = conf.get('undocumented_thing')\n",
        "docs/userguide/configuration.rst": (
            ".. setting:: broker_heartbeat\n\n.. setting:: result_backend_thread_safe\n\n"
            ".. setting:: worker_logfile\n\n.. setting:: beat_logfile\n"
        ),
    }
    gen = generator()
    assert gen.daemon_settings(sources) == {"worker_logfile", "worker_pidfile"}
    block = gen.analyse_release(sources)
    assert block["settings"]["result_backend_thread_safe"] == {
        "default": "False",
        "type": "bool",
        "old": [],
        "source": "conf",
    }
    assert block["settings"]["worker_logfile"]["source"] == "cli"
    assert "undocumented_thing" not in block["settings"]  # read, but not documented
    assert "beat_logfile" not in block["settings"]  # documented, but no beat daemon command here
    assert list(block["settings"]) == sorted(block["settings"])
