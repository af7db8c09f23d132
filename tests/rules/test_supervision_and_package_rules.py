"""SYS002 (systemd units with drop-ins, supervisord programs) and PKG001-PKG004 (lock files of
every flavor, running workers)."""

from __future__ import annotations

import json

import pytest

from remediate.model.plans import Finding
from remediate.model.workers import PackageVersions, WorkerFact
from remediate.rules import Facts, check, check_together
from remediate.rules.supervision_rules import runs_celery_worker
from tests.rules.scenarios import doc_of, only


def together(files: list[tuple[str, str, str]], **facts: object) -> list[Finding]:
    docs = [doc_of(kind, text, path) for kind, text, path in files]
    alone = [f for doc in docs for f in check(doc, Facts(**facts))]  # type: ignore[arg-type]
    return alone + check_together(docs, Facts(**facts))  # type: ignore[arg-type]


# ---------------------------------------------------------------- SYS002

UNIT = "[Service]\nExecStart=/srv/app/venv/bin/celery -A app worker -l INFO\nRestart=on-failure\n"


@pytest.mark.parametrize(
    ("command", "worker"),
    [
        ("/srv/venv/bin/celery -A proj worker --loglevel=INFO", True),
        ("python -m celery -A proj worker", True),
        ("/bin/sh -c 'exec celery --app=proj worker -Q orders'", True),
        ("celery worker", True),
        ("/srv/venv/bin/celery -A proj beat", False),
        ("celery -A proj flower", False),
        ("celery multi start w1 -A proj", False),
        ("/usr/bin/redis-server /etc/redis/redis.conf", False),
    ],
)
def test_what_counts_as_a_celery_worker(command: str, worker: bool) -> None:
    assert runs_celery_worker(command) == worker


def test_unit_restart_with_drop_ins() -> None:
    unit = ("systemd", UNIT, "etc/systemd/system/celery.service")
    [found] = only(together([unit]), "SYS002")
    assert (found.path, found.line) == ("etc/systemd/system/celery.service", 3)
    fixed = (
        "systemd",
        "[Service]\nRestart=always\n",
        "etc/systemd/system/celery.service.d/restart.conf",
    )
    assert not only(together([unit, fixed]), "SYS002")
    undone = (
        "systemd",
        "[Service]\nRestart=no\n",
        "etc/systemd/system/celery.service.d/zz-debug.conf",
    )
    [later] = only(together([unit, fixed, undone]), "SYS002")
    assert later.path.endswith("zz-debug.conf") and "never restarts" in later.message
    missing = ("systemd", "[Service]\nExecStart=celery -A app worker\n", "celery@.service")
    [default] = only(together([missing]), "SYS002")
    assert default.line == 2 and "without Restart=" in default.message
    other = ("systemd", "[Service]\nExecStart=celery -A app beat\n", "celerybeat.service")
    assert not only(together([other]), "SYS002")


def test_supervisord_programs() -> None:
    text = (
        "[program:worker]\ncommand=celery -A app worker\n\n"
        "[program:worker-explicit]\ncommand=celery -A app worker\nautorestart=unexpected\n"
        "exitcodes=2\n\n"
        "[program:worker-off]\ncommand=celery -A app worker\nautorestart = false ; debug\n\n"
        "[program:worker-ok]\ncommand=celery -A app worker\nautorestart=TRUE\n\n"
        "[program:beat]\ncommand=celery -A app beat\n"
    )
    found = only(check(doc_of("supervisord", text, "supervisor/conf.d/app.conf")), "SYS002")
    assert [(f.line, f.message.split(";")[0]) for f in found] == [
        (1, "[program:worker] runs a Celery worker"),
        (11, "[program:worker-off] runs a Celery worker"),
    ]
    assert "default unexpected" in found[0].message and "autorestart=false" in found[1].message


# ---------------------------------------------------------------- PKG001-PKG004

REDIS_CELERY = ("celery", 'broker_url = "redis://r:6379/0"\n', "celeryconfig.py")
AMQP_CELERY = ("celery", 'broker_url = "amqp://u:p@rabbit//"\n', "celeryconfig.py")


def pkg(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return sorted((f.rule, f.line) for f in findings if f.rule.startswith("PKG"))


def test_requirements_with_the_redis_extra_alone() -> None:
    text = "celery[redis]==5.6.3\nkombu==5.6.2\n"
    assert pkg(together([("python-lock", text, "requirements.txt")])) == [("PKG001", 2)]
    old = "celery[redis]==5.3.6\nkombu==5.3.7 --hash=sha256:abc\n"
    assert pkg(together([("python-lock", old, "requirements.txt")])) == [("PKG004", 2)]
    bare = "celery==5.6.3\nkombu==5.6.2\nredis==6.4.0\n"  # redis may be a cache only
    assert pkg(together([("python-lock", bare, "requirements.txt")])) == []


def test_the_broker_comes_from_the_celery_file_of_the_group() -> None:
    bare = ("python-lock", "celery==5.6.3\nkombu==5.6.2\n", "requirements.txt")
    assert pkg(together([bare, REDIS_CELERY])) == [("PKG001", 2)]
    assert pkg(together([bare, AMQP_CELERY])) == []
    sentinel = (
        "celery",
        'broker_url = "sentinel://s1:26379;sentinel://s2:26379"\n',
        "celeryconfig.py",
    )
    assert pkg(together([bare, sentinel])) == [("PKG001", 2), ("PKG002", 2)]
    extra = ("python-lock", "celery[redis]==5.6.3\nkombu==5.6.2\n", "requirements.txt")
    assert pkg(together([extra, REDIS_CELERY])) == [("PKG001", 2)]  # not twice


def test_bounds_and_implied_versions() -> None:
    ranged = "celery[redis]>=5.3,<5.4\nkombu>=5.3,<5.4\n"
    assert pkg(together([("python-lock", ranged, "requirements.txt")])) == [("PKG004", 2)]
    at_most = "celery[redis]\nkombu<=5.7.0\n"
    assert pkg(together([("python-lock", at_most, "requirements.txt")])) == []
    below = "celery[redis]\nkombu<5.7\n"
    assert pkg(together([("python-lock", below, "requirements.txt")])) == [("PKG001", 2)]
    implied = "celery[redis]==5.5.3\n"  # celery 5.5 requires kombu<5.6
    [found] = [
        f for f in together([("python-lock", implied, "requirements.txt")]) if f.rule == "PKG001"
    ]
    assert found.line == 1 and "kombu<5.6 (celery==5.5.3 requires it)" in found.message
    loose = "celery[redis]>=5.6\n"
    assert pkg(together([("python-lock", loose, "requirements.txt")])) == []


POETRY = """[[package]]
name = "celery"
version = "5.4.0"
description = "Distributed Task Queue."

[package.dependencies]
kombu = ">=5.3.4,<6.0"

[[package]]
name = "kombu"
version = "5.3.7"
description = "Messaging library for Python."
"""

PDM = """[metadata]
groups = ["default"]

[[package]]
name = "celery"
version = "5.6.3"

[[package]]
name = "celery"
version = "5.6.3"
extras = ["redis"]

[[package]]
name = "kombu"
version = "5.6.2"
"""


def test_poetry_pdm_and_pipfile_locks() -> None:
    assert pkg(together([("python-lock", POETRY, "poetry.lock"), REDIS_CELERY])) == [("PKG004", 10)]
    assert pkg(together([("python-lock", POETRY, "poetry.lock")])) == []  # broker unknown
    assert pkg(together([("python-lock", PDM, "pdm.lock")])) == [("PKG001", 14)]
    pipfile = (
        json.dumps(
            {
                "_meta": {},
                "default": {
                    "celery": {"extras": ["redis"], "version": "==5.6.3"},
                    "kombu": {"version": "==5.6.2"},
                },
                "develop": {},
            },
            indent=4,
        )
        + "\n"
    )
    assert pkg(together([("python-lock", pipfile, "Pipfile.lock")])) == [("PKG001", 10)]


def test_rabbitmq_4_3_with_old_celery_or_kombu() -> None:
    lock = ("python-lock", "celery==5.6.3\nkombu==5.7.0\n", "requirements.txt")
    assert pkg(together([lock, AMQP_CELERY], rabbitmq_version="4.3.0")) == [("PKG003", 1)]
    assert pkg(together([lock, AMQP_CELERY], rabbitmq_version="4.2.2")) == []
    new = ("python-lock", "celery==5.7.0\nkombu==5.7.0\n", "requirements.txt")
    assert pkg(together([new, AMQP_CELERY], rabbitmq_version="4.3.0")) == []


def test_running_workers() -> None:
    def worker(kombu: str, url: str | None = None) -> WorkerFact:
        return WorkerFact(9, "prefork", PackageVersions(celery="5.6.3", kombu=kombu), url)

    redis = doc_of("celery", 'broker_url = "redis://r:6379/0"\n', "celeryconfig.py")
    found = check(redis, Facts(workers=(worker("5.3.7"), worker("5.6.2"), worker("5.7.0"))))
    assert sorted(f.rule for f in found if f.rule.startswith("PKG")) == ["PKG001", "PKG004"]
    assert all(f.kind == "host" and f.line == 1 for f in found if f.rule.startswith("PKG"))
    other_app = worker("5.3.7", "amqp://rabbit//")
    assert not [f for f in check(redis, Facts(workers=(other_app,))) if f.rule.startswith("PKG")]
    assert not [f for f in check(redis) if f.rule.startswith("PKG")]
