"""Every rule over every file of the real-world corpus: no crash, and exactly the reviewed
findings below (rule -> lines, per file). A finding that is not listed is a false positive
until someone reviews it and adds it here with a reason.

Why each is true (reviewed by hand against the files):
* CEL002: files written entirely in old upper-case names (one note per file; OpenHumans and
  eldos are app modules writing old names with app.conf.update); invenio's BROKER_URL sits
  beside CELERY_BROKER_URL.
* CEL001: pp's CELERY_MAX_TASKS_PER_CHILD (the old name is CELERYD_MAX_TASKS_PER_CHILD);
  voirinprof's task_default_retry_delay / task_max_retries are Task attributes, not settings.
* CEL005: Redis brokers (literal, f-string, or CELERY_BROKER_URL = BROKER_URL) whose
  transport options have no socket_keepalive and no socket_timeout.
* CEL009: task_acks_late = True without worker_cancel_long_running_tasks_on_connection_loss.
* CEL010: broker_heartbeat None with an amqp:// broker (CloudAMQP's old advice).
* CEL011: webee sets redis_socket_* for a redis:// broker with an rpc:// result backend.
* CEL014 (info): redis:// result backends (literal, f-string, or result_backend = broker_url)
  with neither redis_backend_health_check_interval nor redis_socket_keepalive.
* RDS002: tcp-keepalive 0. RMQ007: upstream's example unit sets LimitNOFILE=32768 (its own
  comment says to raise it to 65536); openstack's template sets 65535.
* LIM001: every nofile row of limits.conf, once per domain (info: services ignore them).
* templated/: Redis refuses the unrendered template lines (RDS005), the ERB line stops the
  shell (SHL001), systemd ignores the ERB line (SYS001); the rabbitmq-server templates put
  ulimit -n in /etc/default/rabbitmq-server (RMQ003).
Silent on purpose: brokers whose scheme cannot be told (env() without default, 'memory',
redis-sentinel:// of a third-party transport), Django settings, redbeat_redis_url, OL_CONFIG.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from remediate.errors import ParseError
from remediate.formats import parse
from remediate.formats.base import Document
from remediate.rules import check, check_together
from tests.rules.scenarios import CORPUS

KINDS = ("celery", "redis", "rabbitmq", "shell", "systemd", "limits")

EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "celery/ALLBACK-2022__DoodleDoodle__setting.py": {"CEL002": (4,)},
    "celery/CodeTheChangeUBC__reBOOT__celeryconfig.py": {"CEL010": (7,)},
    "celery/DNTM2802__distributed-object-detection__celeryconfig.py": {
        "CEL002": (1,),
        "CEL009": (5,),
    },
    "celery/FullStackProject-s__Full-StackCorporation-Backend__celery.py": {
        "CEL002": (3,),
        "CEL005": (3,),
        "CEL014": (5,),
    },
    "celery/LLNL__merlin__celeryconfig.py": {"CEL009": (11,)},
    "celery/OpenHumans__open-humans__celery.py": {"CEL002": (15,)},
    "celery/PrzypisPowszechny__pp__celery.py": {"CEL001": (7,), "CEL002": (5,)},
    "celery/daschubert__celery-mlflow__celery_config_redis_long.py": {"CEL009": (7,)},
    "celery/datenbank-io__datenbank-worker__celeryconfig.py": {"CEL002": (2,), "CEL010": (7,)},
    "celery/dealertrack__celery-redis-sentinel__celeryconfig.py": {"CEL002": (5,)},
    "celery/eldos-dl__executor__celery.py": {"CEL002": (12,)},
    "celery/fabianpersson__ACC_project__celeryconfig.py": {"CEL010": (3,)},
    "celery/galaxyproject__cloudlaunch__celeryconfig.py": {"CEL002": (1,)},
    "celery/iDigBio__idb-backend__prod.py": {"CEL005": (4,), "CEL014": (9,)},
    "celery/internetarchive__openlibrary__celeryconfig.py": {"CEL002": (1,)},
    "celery/inveniosoftware__invenio-celery__config.py": {
        "CEL002": (11,),
        "CEL005": (12,),
        "CEL014": (15,),
    },
    "celery/mrz001__celery_redis_sentinel_demo__celeryconfig.py": {"CEL002": (2,)},
    "celery/ngageoint__voxel-globe__celeryconfig.py": {"CEL002": (1,)},
    "celery/regvud__delivery-project__celery_config.py": {"CEL005": (1,)},
    "celery/shonteag__redbeat-example__celeryconf.py": {"CEL005": (1,), "CEL014": (2,)},
    "celery/taigaio__taiga-back__celery.py": {"CEL014": (22,)},
    "celery/voirinprof__gis_celery_automation_docker__celery_config.py": {
        "CEL001": (9, 10),
        "CEL014": (2,),
    },
    "celery/webee__customer-service-api____init__.py": {"CEL005": (5,), "CEL011": (18, 19)},
    "limits/FishDDev__shadowsocks-python__limits.conf": {"LIM001": (51,)},
    "limits/Shellgate__tcp_optimization_bbr__limits.conf": {"LIM001": (1, 16)},
    "limits/VirtuBox__ubuntu-nginx-web-server__limits.conf": {"LIM001": (57, 59)},
    "limits/hashbang__shell-server__limits.conf": {"LIM001": (58,)},
    "limits/iusrepo__redis6__redis-limit-init": {"LIM001": (5,)},
    "limits/kstm-su__isucon4q-practice__limits.conf": {"LIM001": (62, 64)},
    "limits/matsuu__isucon13f__limits.conf": {"LIM001": (57,)},
    "redis/3scale-archive__docker-redis__redis.conf": {"RDS002": (13,)},
    "systemd/rabbitmq__rabbitmq-server__rabbitmq-server.service": {"RMQ007": (24,)},
    "templated/redis/argoproj-labs__argocd-operator__redis.conf.tpl": {"RDS005": (2, 4, 12)},
    "templated/redis/argoproj-labs__argocd-operator__sentinel.conf.tpl": {"RDS005": (2,)},
    "templated/redis/gitlabhq__omnibus-gitlab__redis.conf.erb": {
        "RDS005": (
            88,
            97,
            105,
            106,
            109,
            126,
            206,
            207,
            209,
            210,
            211,
            212,
            213,
            214,
            257,
            276,
            284,
            476,
            477,
            492,
            512,
            513,
            514,
            515,
            516,
            528,
            554,
            578,
            590,
            636,
            637,
            638,
            639,
            1114,
        ),
    },
    "templated/shell/getaroom__chef-rabbitmq__rabbitmq-server-default.erb": {"SHL001": (9,)},
    "templated/shell/jacoelho__ansible.rabbitmq__rabbitmq-server.j2": {"RMQ003": (3,)},
    "templated/shell/openstack__openstack-ansible-rabbitmq_server__rabbitmq-server.j2": {
        "RMQ003": (4,),
    },
    "templated/systemd/getaroom__chef-rabbitmq__limits.conf.erb": {"SYS001": (2,)},
    "templated/systemd/openstack__openstack-ansible-rabbitmq_server__rabbitmq-server.service.j2": {
        "RMQ007": (11,),
    },
}


def corpus_files() -> list[tuple[str, Path]]:
    files = [(kind, path) for kind in KINDS for path in sorted((CORPUS / kind).iterdir())]
    files += [
        (path.parent.name, path)
        for path in sorted((CORPUS / "templated").rglob("*"))
        if path.is_file()
    ]
    return files


def parsed() -> list[Document]:
    docs = []
    for kind, path in corpus_files():
        try:
            docs.append(parse(kind, path.read_bytes(), str(path.relative_to(CORPUS))))
        except ParseError as error:
            assert path.parts[-3] == "templated", error  # only templates may be unparseable
            assert error.line is not None and error.path
    return docs


def test_corpus_is_there() -> None:
    assert len([f for f in corpus_files() if f[1].parts[-3] != "templated"]) == 66


def test_every_rule_over_every_corpus_file() -> None:
    found: dict[str, dict[str, list[int | None]]] = defaultdict(lambda: defaultdict(list))
    for doc in parsed():
        for finding in check(doc):
            assert finding.path == doc.path and finding.message and finding.fix
            found[finding.path][finding.rule].append(finding.line)
    actual = {
        path: {rule: tuple(lines) for rule, lines in rules.items()} for path, rules in found.items()
    }
    assert actual == EXPECTED


def test_cross_rules_over_the_corpus() -> None:
    docs = parsed()
    # no corpus redis.conf sets timeout > 0 or maxclients above its default, no rabbitmq.conf
    # sets heartbeat and no AMQP celeryconfig sets a heartbeat RabbitMQ would override
    assert check_together(docs) == []
    by_folder: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        by_folder[doc.path.split("/")[0]].append(doc)
    for folder, group in by_folder.items():
        assert check_together(group) == [], folder


@pytest.mark.parametrize("version", ["4.4", "5.0", "5.3", "5.5"])
def test_corpus_under_older_celery_versions_does_not_crash(version: str) -> None:
    from remediate.rules import Facts

    for doc in parsed():
        if doc.kind == "celery":
            check(doc, Facts(celery_version=version))


def test_rules_are_fast() -> None:
    docs = parsed()
    rounds = -(-1000 // len(docs))
    start = time.perf_counter()
    for _ in range(rounds):
        for doc in docs:
            check(doc)
    elapsed = time.perf_counter() - start
    assert rounds * len(docs) >= 1000
    assert elapsed < 3.0, f"{rounds * len(docs)} documents took {elapsed:.2f} s"
