"""verify on a host that manages no Celery file but runs a worker: the worker's cwd and -A app
name the configuration module (``config_from_object('celeryconfig')``); when it cannot be
located the host fails saying so, never a silent skip."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from remediate.model.facts import FileFact
from remediate.model.workers import WorkerFact
from remediate.plan.app_worker import ConfigNotFound, app_module_files, locate_config
from remediate.remote.worker_facts import parse_worker_probe

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "workers-debian.txt"
APP = b"from celery import Celery\napp = Celery('tasks')\napp.config_from_object('celeryconfig')\n"
Reader = Callable[[Sequence[str]], Mapping[str, FileFact]]
CONFIG = b'broker_url = "redis://127.0.0.1:6379/0"\n'


def host(files: Mapping[str, bytes | None]) -> tuple[list[list[str]], Reader]:
    """A reader over fake host files (None: exists but unreadable) that records each read."""
    asked: list[list[str]] = []

    def read(paths: Sequence[str]) -> dict[str, FileFact]:
        asked.append(list(paths))
        found = {}
        for path in paths:
            if path not in files:
                found[path] = FileFact(path, False)
            elif files[path] is None:
                found[path] = FileFact(path, True, error="Permission denied")
            else:
                found[path] = FileFact(path, True, content=files[path] or b"")
        return found

    return asked, read


def recorded_worker() -> WorkerFact:
    old, _ = parse_worker_probe(RECORDED.read_bytes(), {16399})
    assert (old.app, old.cwd) == ("tasks", "/tmp/wk-app")
    return old


def test_the_config_module_of_the_app_in_the_workers_cwd() -> None:
    worker = recorded_worker()
    asked, read = host({"/tmp/wk-app/tasks.py": APP, "/tmp/wk-app/celeryconfig.py": CONFIG})
    fact = locate_config(worker, read)
    assert (fact.path, fact.content) == ("/tmp/wk-app/celeryconfig.py", CONFIG)
    assert asked[0][0] == "/tmp/wk-app/tasks.py"


def test_a_package_app_and_a_dotted_config_module() -> None:
    worker = recorded_worker()
    app = b"from celery import Celery\napp = Celery()\napp.config_from_object('proj.settings')\n"
    worker = replace(worker, app="proj", cwd="/srv/app")
    assert app_module_files(worker)[:2] == ("/srv/app/proj.py", "/srv/app/proj/__init__.py")
    _, read = host(
        {
            "/srv/app/proj/__init__.py": b"",
            "/srv/app/proj/celery.py": app,
            "/srv/app/proj/settings.py": CONFIG,
        }
    )
    assert locate_config(worker, read).path == "/srv/app/proj/settings.py"


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({}, "app module not found (looked for /tmp/wk-app/tasks.py"),
        ({"/tmp/wk-app/tasks.py": None}, "cannot read the app module"),
        (
            {"/tmp/wk-app/tasks.py": b"from celery import Celery\napp = Celery()\n"},
            "has no config_from_object('<module>')",
        ),
        ({"/tmp/wk-app/tasks.py": APP}, "config_from_object('celeryconfig'), but"),
    ],
)
def test_a_config_that_cannot_be_located_says_why(
    files: dict[str, bytes | None], says: str
) -> None:
    _, read = host(files)
    with pytest.raises(ConfigNotFound) as caught:
        locate_config(recorded_worker(), read)
    assert says in str(caught.value)
    assert "worker 14104 (-A tasks in /tmp/wk-app)" in str(caught.value)
