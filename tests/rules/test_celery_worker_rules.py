"""CEL013-CEL016 and the lint misses of issue 14: helper variables in Django settings, variables
of an app module, looser "did you mean", CEL009's wording."""

from __future__ import annotations

from remediate.model.plans import Finding
from remediate.model.workers import SocketFact, WorkerFact
from remediate.rules import Facts, check
from tests.rules.scenarios import doc_of, only, rules_of


def lint(text: str, path: str = "celeryconfig.py", **facts: object) -> list[Finding]:
    return check(doc_of("celery", text, path), Facts(**facts))  # type: ignore[arg-type]


REDIS = 'broker_url = "redis://r:6379/0"\n'
AMQP = 'broker_url = "amqp://u:p@rabbit:5672//"\n'


# ---------------------------------------------------------------- CEL013


def test_visibility_timeout_below_the_hard_limit_with_acks_late() -> None:
    text = (
        REDIS + "broker_transport_options = {'visibility_timeout': 1800}\n"
        "task_acks_late = True\ntask_time_limit = 3600\n"
    )
    [found] = only(lint(text), "CEL013")
    assert found.line == 2 and "visibility_timeout is 1800" in found.message
    assert "task_time_limit = 3600" in found.message and "above 3600" in found.fix


def test_visibility_timeout_equal_to_the_limit_is_not_enough() -> None:
    text = (
        REDIS + "broker_transport_options = {'visibility_timeout': 3600}\n"
        "task_acks_late = True\ntask_time_limit = 3600\n"
    )
    assert "CEL013" in rules_of(lint(text))


def test_visibility_timeout_rules_stay_quiet_without_acks_late_or_limit_or_redis() -> None:
    base = "broker_transport_options = {'visibility_timeout': 60}\n"
    assert "CEL013" not in rules_of(lint(REDIS + base + "task_time_limit = 3600\n"))
    assert "CEL013" not in rules_of(lint(REDIS + base + "task_acks_late = True\n"))
    assert "CEL013" not in rules_of(
        lint(AMQP + base + "task_acks_late = True\ntask_time_limit = 3600\n")
    )
    assert "CEL013" not in rules_of(
        lint(
            REDIS + "broker_transport_options = "
            "{'visibility_timeout': 7200}\ntask_acks_late = True\n"
            "task_time_limit = 3600\n"
        )
    )


def test_soft_limit_counts_when_no_hard_limit_and_old_names_work() -> None:
    text = (
        'BROKER_URL = "redis://r/0"\nCELERY_ACKS_LATE = True\nCELERYD_TASK_SOFT_TIME_LIMIT = 5000\n'
    )
    [found] = only(lint(text), "CEL013")
    assert "CELERYD_TASK_SOFT_TIME_LIMIT = 5000" in found.message and found.line == 3


# ---------------------------------------------------------------- CEL014


def test_redis_result_backend_needs_health_check_and_keepalive() -> None:
    text = AMQP + 'result_backend = "redis://r:6379/1"\nredis_socket_keepalive = True\n'
    [found] = only(lint(text), "CEL014")
    assert found.line == 2 and "redis_backend_health_check_interval" in found.message
    assert "redis_socket_keepalive" not in found.message
    done = text + "redis_backend_health_check_interval = 25\n"
    assert "CEL014" not in rules_of(lint(done))
    assert "CEL014" not in rules_of(lint(AMQP + 'result_backend = "rpc://"\n'))


def test_new_redis_socket_names_beside_a_redis_backend_are_not_cel011() -> None:
    text = (
        REDIS + 'result_backend = "redis://r:6379/1"\nredis_socket_keepalive = True\n'
        "redis_backend_health_check_interval = 25\n"
    )
    assert not {"CEL011", "CEL014"} & set(rules_of(lint(text)))
    rpc = REDIS + 'result_backend = "rpc://"\nredis_socket_keepalive = True\n'
    assert "CEL011" in rules_of(lint(rpc))


# ---------------------------------------------------------------- CEL015


def test_solo_pool_with_amqp_from_the_file_and_from_a_running_worker() -> None:
    [found] = only(lint(AMQP + 'worker_pool = "solo"\n'), "CEL015")
    assert found.line == 2
    for pool in ("prefork", "threads", "gevent", "eventlet"):
        assert "CEL015" not in rules_of(lint(AMQP + f'worker_pool = "{pool}"\n'))
    assert "CEL015" not in rules_of(lint(REDIS + 'worker_pool = "solo"\n'))
    assert "CEL015" not in rules_of(lint(AMQP + 'worker_pool = "solo"\nbroker_heartbeat = 0\n'))
    running = (
        WorkerFact(101, "solo", broker_url="amqp://rabbit//"),
        WorkerFact(102, "prefork", broker_url="amqp://rabbit//"),
        WorkerFact(103, "solo", broker_url="redis://other/0"),
    )
    [from_host] = only(lint(AMQP, workers=running), "CEL015")
    assert "pid 101" in from_host.message and from_host.line == 1


# ---------------------------------------------------------------- CEL016


def test_running_worker_without_keepalive_timer_needs_a_restart() -> None:
    text = REDIS + "broker_transport_options = {\n    'socket_keepalive': True,\n}\n"
    stale = WorkerFact(
        77,
        "prefork",
        sockets=(SocketFact("10.0.0.5:6379", False), SocketFact("10.0.0.5:6379", True)),
    )
    [found] = only(lint(text, workers=(stale,)), "CEL016")
    assert found.line == 3 and "pid 77" in found.message and "restart" in found.fix
    fresh = WorkerFact(78, sockets=(SocketFact("10.0.0.5:6379", True),))
    assert "CEL016" not in rules_of(lint(text, workers=(fresh,)))
    assert "CEL016" not in rules_of(lint(REDIS, workers=(stale,)))  # the file does not ask
    assert "CEL016" not in rules_of(lint(text))  # no facts: silent


# ---------------------------------------------------------------- lint misses


def test_broker_url_in_a_helper_variable_of_django_settings() -> None:
    text = (
        "import os\nINSTALLED_APPS = ['app']\nSECRET_KEY = 'x'\n"
        "_url = f\"redis://{os.environ.get('REDIS_HOST', 'localhost')}:6379/0\"\n"
        "CELERY_BROKER_URL = _url\n"
    )
    [found] = only(lint(text, "settings.py"), "CEL005")
    assert found.line == 5


def test_setting_spelled_variables_of_an_app_module_are_noops() -> None:
    text = (
        "from celery import Celery\n\nBROKER_CONNECTION_TIMEOUT = 120\n"
        "CELERY_TASK_ACKS_LATE = True\nBROKER_URL = 'redis://r/0'\nDEBUG = True\n"
        "app = Celery('proj', broker=BROKER_URL)\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    )
    found = {f.line: f.message for f in only(lint(text, "proj/celery.py"), "CEL001")}
    assert sorted(found) == [3, 4]  # BROKER_URL is read (Celery(broker=...)); DEBUG is not Celery's
    assert "config_from_object loads another module" in found[3]


def test_app_module_that_loads_itself_keeps_its_variables() -> None:
    text = (
        "from celery import Celery\nBROKER_CONNECTION_TIMEOUT = 120\n"
        "app = Celery('proj')\napp.config_from_object(__name__)\n"
    )
    assert "CEL001" not in rules_of(lint(text, "proj/celery.py"))
    named = text.replace("__name__", "'proj.tasks'")
    assert "CEL001" not in rules_of(lint(named, "proj/tasks.py"))


def test_did_you_mean_for_near_misses() -> None:
    text = REDIS + "broker_connection_max_retry = 10\nworker_reject_on_worker_lost = True\n"
    found = {f.line: f for f in only(lint(text), "CEL001")}
    assert "did you mean broker_connection_max_retries?" in found[2].message
    assert "did you mean task_reject_on_worker_lost?" in found[3].message
    assert found[3].fix == "rename it to task_reject_on_worker_lost"


def test_cel009_says_false_when_the_cancel_setting_is_false() -> None:
    text = (
        REDIS + "task_acks_late = True\n"
        "worker_cancel_long_running_tasks_on_connection_loss = False\n"
    )
    [found] = only(lint(text), "CEL009")
    assert "with worker_cancel_long_running_tasks_on_connection_loss = False" in found.message
    [unset] = only(lint(REDIS + "task_acks_late = True\n"), "CEL009")
    assert "without worker_cancel_long_running_tasks_on_connection_loss" in unset.message
