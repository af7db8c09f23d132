"""Celery rules about the worker around the broker connection (CEL013-CEL016): how long the
broker waits for an ack, the result backend's connection, the pool, and running workers.

* CEL013: ``visibility_timeout`` (Redis transport option, default 3600) not above the longest
  task with ``task_acks_late``. The longest task is ``task_time_limit`` (else
  ``task_soft_time_limit``); a file without either states no bound and CEL013 stays silent.
  No Celery setting states an ETA/countdown horizon, so CEL013 never guesses one (a module
  constant such as ``MAX_ETA`` is not read by Celery and is not taken as one).
* CEL014: a Redis result backend without ``redis_backend_health_check_interval`` or
  ``redis_socket_keepalive`` (defaults None and False: a dead backend connection is found
  only by the 120 s ``redis_socket_timeout``, or never by a connection that sits idle).
* CEL015: an AMQP broker and the solo pool (``worker_pool``, or a running worker's
  ``-P solo`` from ``Facts.workers``). Solo runs the task inline in the consumer's event loop,
  so no AMQP heartbeat goes out while a task runs. Prefork and threads run tasks elsewhere
  while the loop keeps beating; gevent and eventlet use synloop, which sends heartbeats from
  the green timer (celery/worker/loops.py ``synloop``: ``is_green``) as long as tasks yield.
  Celery ships no asyncio pool; a custom pool (``-P custom``) is not judged.
* CEL016 (host): a running worker whose broker sockets have no keepalive timer although the
  file asks for ``socket_keepalive``: it started before the change and needs a restart.
"""

from __future__ import annotations

from typing import Any

from remediate.formats.base import ABSENT
from remediate.formats.celery_values import flat_key
from remediate.model.plans import Finding
from remediate.model.workers import WorkerFact
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import (
    AMQP_SCHEMES,
    REDIS_SCHEMES,
    TRANSPORT,
    Broker,
    CeleryFile,
    resolved,
    schemes,
)

DEFAULT_VISIBILITY_TIMEOUT = 3600  # kombu's Redis transport
HEARTBEATLESS_POOLS = frozenset({"solo"})

CEL013 = RuleInfo(
    "CEL013",
    "celery",
    "warning",
    "visibility_timeout not above the longest task",
    "With the Redis broker, a message not acknowledged within visibility_timeout (transport "
    "option, default 3600 s) is delivered again to another worker. With task_acks_late the ack "
    "comes after the task, so a task running longer than visibility_timeout runs twice; the "
    "same holds for ETA/countdown tasks held longer than it. Several apps on one broker: the "
    "shortest visibility_timeout wins. CEL013 compares with task_time_limit (else "
    "task_soft_time_limit); no setting states an ETA horizon, so that half is yours to check.",
    "broker_transport_options visibility_timeout above the longest task time limit and the "
    "longest ETA/countdown",
)
CEL014 = RuleInfo(
    "CEL014",
    "celery",
    "info",
    "Redis result backend without health checks or keepalive",
    "The Redis result backend's connection has its own settings: "
    "redis_backend_health_check_interval (default None: no PING on an idle connection) and "
    "redis_socket_keepalive (default False). Without them a connection dropped by a NAT or load "
    "balancer is found only when a result is stored or read, after redis_socket_timeout "
    "(120 s), and the task's result is lost unless result_backend_always_retry is set.",
    "redis_backend_health_check_interval = 25, redis_socket_keepalive = True, "
    "result_backend_always_retry = True",
)
CEL015 = RuleInfo(
    "CEL015",
    "celery",
    "warning",
    "AMQP broker with a pool that cannot send heartbeats",
    "The solo pool runs each task inline in the consumer's event loop: while a task runs, no "
    "AMQP heartbeat is sent, and RabbitMQ closes the connection after about two missed "
    "heartbeats (a task longer than ~2 x the negotiated heartbeat loses its connection and, "
    "with acks_late, runs again). Prefork and threads keep the loop beating; gevent and "
    "eventlet send heartbeats from their green timer. --without-heartbeat is about event "
    "heartbeats, not AMQP ones.",
    "run the worker with -P prefork or -P threads; or broker_heartbeat = 0 with TCP keepalive "
    "(tcp_listen_options.keepalive) as the dead-peer check",
)
CEL016 = RuleInfo(
    "CEL016",
    "celery",
    "warning",
    "a running worker's broker socket lacks keepalive",
    "Celery reads its settings once at start-up: a worker started before socket_keepalive was "
    "added to broker_transport_options keeps connections without a keepalive timer (ss -tnoe "
    "shows none), and a dead peer goes unnoticed until the worker is restarted.",
    "restart the worker",
)
RULE_INFOS = (CEL013, CEL014, CEL015, CEL016)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at(cf: CeleryFile, rule: RuleInfo, name: str, message: str, fix: str = "") -> Finding:
    line = cf.line(name)
    return finding(rule, cf.path, line, message, fix, column=cf.column(line, cf.spelled(name)))


def _anchor(cf: CeleryFile, *names: str) -> str:
    """The first of ``names`` the file sets (the finding's place), else the last one."""
    return next((name for name in names if cf.line(name)), names[-1])


def visibility_below_task_limit(
    cf: CeleryFile, scheme: str | None, options: dict[Any, Any] | None
) -> list[Finding]:
    if scheme not in REDIS_SCHEMES or options is None or cf.value("task_acks_late") is not True:
        return []
    limits = [(name, cf.value(name)) for name in ("task_time_limit", "task_soft_time_limit")]
    stated = [(name, value) for name, value in limits if _number(value) and value > 0]
    if not stated:
        return []
    limit_name, limit = stated[0]
    visibility = options.get("visibility_timeout", ABSENT)
    if visibility is ABSENT:
        visibility, shown = DEFAULT_VISIBILITY_TIMEOUT, "unset (kombu's default 3600)"
    elif not _number(visibility):
        return []
    else:
        shown = f"{visibility:g}"
    if visibility > limit:
        return []
    entry = flat_key(TRANSPORT, "visibility_timeout")
    line = cf.line(entry) or cf.line(limit_name)
    text = "visibility_timeout" if cf.line(entry) else cf.spelled(limit_name)
    return [
        finding(
            CEL013,
            cf.path,
            line,
            f"visibility_timeout is {shown} but {cf.spelled(limit_name)} = {limit:g} with "
            f"{cf.spelled('task_acks_late')} = True: a task still running after "
            f"{visibility:g} s is delivered again and runs twice",
            f"broker_transport_options visibility_timeout above {limit:g} (and above the longest "
            "ETA/countdown)",
            column=cf.column(line, text),
        )
    ]


def result_backend_blind(cf: CeleryFile, backend_schemes: set[str]) -> list[Finding]:
    if len(backend_schemes) != 1 or next(iter(backend_schemes)) not in REDIS_SCHEMES:
        return []
    missing = []
    interval = cf.value("redis_backend_health_check_interval")
    if interval in (ABSENT, None) or (_number(interval) and interval <= 0):
        missing.append("redis_backend_health_check_interval")
    keepalive = cf.value("redis_socket_keepalive")
    if keepalive is ABSENT or keepalive in (None, False, 0):
        missing.append("redis_socket_keepalive")
    if not missing:
        return []
    fixes = {"redis_backend_health_check_interval": "= 25", "redis_socket_keepalive": "= True"}
    return [
        _at(
            cf,
            CEL014,
            "result_backend",
            f"Redis result backend without {' and '.join(cf.spelled(m) for m in missing)}: "
            "a dropped backend connection is found only when a result is stored",
            ", ".join(f"{cf.spelled(m)} {fixes[m]}" for m in missing)
            + ", result_backend_always_retry = True",
        )
    ]


def _worker_scheme(worker: WorkerFact) -> str | None:
    url = worker.broker_url or ""
    return url.split("://", 1)[0].lower() if "://" in url else None


def _workers_of(facts: Facts, scheme: str | None) -> list[WorkerFact]:
    """The running workers this file may configure: those whose broker has its scheme (or
    an unknown one)."""
    return [w for w in facts.workers or () if _worker_scheme(w) in (None, scheme)]


def heartbeatless_pool(cf: CeleryFile, scheme: str | None, facts: Facts) -> list[Finding]:
    if scheme not in AMQP_SCHEMES:
        return []
    heartbeat = cf.value("broker_heartbeat")
    if heartbeat is not ABSENT and heartbeat in (None, 0, False):
        return []  # heartbeats off: nothing to miss (CEL010 speaks about that)
    findings = []
    pool = cf.value("worker_pool")
    if isinstance(pool, str) and pool.lower() in HEARTBEATLESS_POOLS:
        findings.append(
            _at(
                cf,
                CEL015,
                "worker_pool",
                f"{cf.spelled('worker_pool')} = {pool!r} with the {scheme}:// broker: "
                "no AMQP heartbeat is sent while a task runs, and RabbitMQ closes "
                "the connection of a task longer than about two heartbeats",
            )
        )
    for worker in _workers_of(facts, scheme):
        if (worker.pool or "").lower() in HEARTBEATLESS_POOLS:
            anchor = _anchor(cf, "broker_url")
            findings.append(
                _at(
                    cf,
                    CEL015,
                    anchor,
                    f"the running worker pid {worker.pid} uses -P {worker.pool} with "
                    f"the {scheme}:// broker: no AMQP heartbeat is sent while a task "
                    "runs",
                )
            )
    return findings


def running_without_keepalive(
    cf: CeleryFile, scheme: str | None, options: dict[Any, Any] | None, facts: Facts
) -> list[Finding]:
    if (
        scheme not in REDIS_SCHEMES - {"redis+socket"}
        or not options
        or options.get("socket_keepalive") is not True
        or not facts.workers
    ):
        return []
    findings = []
    entry = flat_key(TRANSPORT, "socket_keepalive")
    line = cf.line(entry) or cf.line(TRANSPORT)
    for worker in _workers_of(facts, scheme):
        bare = [s for s in worker.sockets if not s.keepalive]
        if not bare:
            continue
        peers = ", ".join(sorted({s.peer for s in bare}))
        findings.append(
            finding(
                CEL016,
                cf.path,
                line,
                f"the running worker pid {worker.pid} has {len(bare)} broker connection(s) without "
                f"a keepalive timer ({peers}) although this file sets socket_keepalive: it started "
                "before the change",
                f"restart the worker (pid {worker.pid})",
                column=cf.column(line, "socket_keepalive"),
            )
        )
    return findings


def check_worker_side(cf: CeleryFile, broker: Broker, facts: Facts) -> list[Finding]:
    backend = schemes(resolved(cf.value("result_backend"), cf))
    return [
        *visibility_below_task_limit(cf, broker.scheme, broker.options),
        *result_backend_blind(cf, backend),
        *heartbeatless_pool(cf, broker.scheme, facts),
        *running_without_keepalive(cf, broker.scheme, broker.options, facts),
    ]
