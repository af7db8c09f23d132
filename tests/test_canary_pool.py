"""The canary runs the app's own pool type at concurrency 1 (issue 15): a running worker's -P,
else the file's worker_pool (any spelling), else Celery's default, prefork; and the worker of
the app is found among the recorded worker facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediate import formats
from remediate.plan.app_worker import app_worker, worker_interpreter
from remediate.plan.canary import CanaryError, canary_files
from remediate.remote.worker_facts import parse_worker_probe

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "workers-debian.txt"
CONFIG = 'broker_url = "redis://127.0.0.1:6379/0"\n'


def argv(config: str, worker_pool: str | None = None) -> tuple[str, ...]:
    doc = formats.parse("celery", config.encode(), path="/srv/app/celeryconfig.py")
    return canary_files(doc, "t1", worker_pool=worker_pool).worker_args()


def pool_of(args: tuple[str, ...]) -> tuple[str, str]:
    return args[args.index("-P") + 1], args[args.index("-c") + 1]


def test_without_a_worker_or_setting_the_canary_runs_prefork() -> None:
    assert pool_of(argv(CONFIG)) == ("prefork", "1")


@pytest.mark.parametrize(
    ("setting", "pool"),
    [("worker_pool = 'threads'\n", "threads"), ("CELERYD_POOL = 'solo'\n", "solo")],
)
def test_the_files_worker_pool_in_any_spelling(setting: str, pool: str) -> None:
    assert pool_of(argv(CONFIG + setting)) == (pool, "1")


def test_a_running_workers_pool_wins_over_the_file() -> None:
    assert pool_of(argv(CONFIG + "worker_pool = 'threads'\n", "gevent")) == ("gevent", "1")


def test_a_pool_that_is_no_name_is_an_error_naming_the_line() -> None:
    with pytest.raises(CanaryError) as caught:
        argv(CONFIG + "worker_pool = '-rf; x'\n")
    assert "celeryconfig.py:2" in str(caught.value)


def test_the_apps_worker_from_recorded_facts_gives_interpreter_and_pool() -> None:
    old, new = parse_worker_probe(RECORDED.read_bytes(), {16399})
    # old runs in /tmp/wk-app without -P; new with -P solo elsewhere
    chosen = app_worker((old, new), "/tmp/wk-app/celeryconfig.py")
    assert chosen is old and chosen.pool is None
    assert worker_interpreter(chosen) == old.interpreter
    assert app_worker((old, new), "/elsewhere/celeryconfig.py") is old  # first by pid
    assert app_worker((), "/tmp/wk-app/celeryconfig.py") is None
    doc = formats.parse("celery", CONFIG.encode(), path="/tmp/wk-app/celeryconfig.py")
    assert pool_of(canary_files(doc, "t1", worker_pool=new.pool).worker_args()) == ("solo", "1")
    assert pool_of(canary_files(doc, "t1", worker_pool=chosen.pool).worker_args()) == (
        "prefork",
        "1",
    )
