"""Celery rules (CEL004-CEL012; names are celery_names' CEL001-CEL003): what a celeryconfig.py
does to the broker connection.

The broker's scheme comes from ``broker_url`` in any spelling: a literal, a URL literal inside
an expression (``os.environ.get("X", "redis://...")``, an f-string), or another top-level name
of the file it refers to. When it cannot be told, the rules that depend on it stay silent.
"""

from __future__ import annotations

from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.formats.celery_values import Code, flat_key
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import (
    AMQP_SCHEMES,
    KEEPALIVE_OPTIONS,
    REDIS_SCHEMES,
    TRANSPORT,
    Broker,
    CeleryFile,
    canonical,
    read_broker,
    read_celery_file,
    resolved,
    schemes,
)
from remediate.rules.celery_names import check_names
from remediate.rules.celery_worker_rules import check_worker_side

#: result backend settings (new names) whose CELERY_REDIS_* old names people take for the broker's
RESULT_BACKEND_REDIS = {
    "redis_socket_timeout": "socket_timeout",
    "redis_socket_connect_timeout": "socket_connect_timeout",
    "redis_socket_keepalive": "socket_keepalive",
    "redis_retry_on_timeout": "retry_on_timeout",
}

CEL004 = RuleInfo(
    "CEL004",
    "celery",
    "warning",
    "broker_heartbeat with a broker that has no heartbeats",
    "broker_heartbeat works only with the pyamqp transport. The Redis transport declares no "
    "heartbeat support, so it does nothing for redis://, rediss://, sentinel:// and "
    "redis+socket:// brokers; dead Redis connections are found by TCP keepalive and kombu's "
    "health checks instead.",
    "remove it; set broker_transport_options socket_keepalive (+ socket_keepalive_options) "
    "and health_check_interval",
)
CEL005 = RuleInfo(
    "CEL005",
    "celery",
    "warning",
    "Redis broker that cannot notice a dead connection",
    "kombu passes explicit Nones that override redis-py's defaults: socket_keepalive None "
    "(off), socket_timeout None (wait forever); health_check_interval defaults to 25. "
    "socket_keepalive=True alone uses the OS timers (7200 s idle: about 2 h to notice a dead "
    "peer); fast detection needs socket_keepalive_options {TCP_KEEPIDLE: 60, "
    "TCP_KEEPINTVL: 10, TCP_KEEPCNT: 3}. redis+socket:// drops keepalive options.",
    "broker_transport_options: socket_keepalive True, socket_keepalive_options, socket_timeout "
    "30, health_check_interval 25 (no keepalive for redis+socket)",
)
CEL006 = RuleInfo(
    "CEL006",
    "celery",
    "error",
    "broker_connection_retry = False",
    "With broker_connection_retry False the worker does not reconnect after losing the broker: "
    "it stops consuming, and only a supervisor restart brings it back.",
    "broker_connection_retry = True",
)
CEL007 = RuleInfo(
    "CEL007",
    "celery",
    "warning",
    "broker_connection_max_retries 0 or 10 or fewer",
    "The worker's reconnect backoff is linear (2, 4, 6 ... s, capped at 30 s with kombu 5.7): "
    "10 retries survive about 110 s of broker downtime, 0 means no retries at all (kombu "
    '4.6.4+). When retries run out the worker exits ("Unrecoverable error").',
    "broker_connection_max_retries = 100, or None to retry forever",
)
CEL008 = RuleInfo(
    "CEL008",
    "celery",
    "info",
    "broker_connection_retry_on_startup unset",
    "broker_connection_retry_on_startup (Celery 5.3+, default None) follows "
    "broker_connection_retry. Celery 5.3 and 5.4 warn at every start while it is unset; 5.5+ "
    "when broker_connection_retry is False (the first connection is then not retried either).",
    "broker_connection_retry_on_startup = True",
)
CEL009 = RuleInfo(
    "CEL009",
    "celery",
    "warning",
    "task_acks_late without worker_cancel_long_running_tasks_on_connection_loss",
    "With acks_late, a task still running when the broker connection is lost is redelivered "
    "and runs twice unless worker_cancel_long_running_tasks_on_connection_loss (Celery 5.1+, "
    "default False, True in 6.0) cancels it.",
    "worker_cancel_long_running_tasks_on_connection_loss = True",
)
CEL010 = RuleInfo(
    "CEL010",
    "celery",
    "warning",
    "AMQP heartbeat disabled or below 5 s",
    "With broker_heartbeat 0 or None the client disables AMQP heartbeats whatever the server "
    "suggests, so a dead connection goes unnoticed until TCP gives up; below 5 s heartbeats "
    "give false positives.",
    "broker_heartbeat between 10 and 60",
)
CEL011 = RuleInfo(
    "CEL011",
    "celery",
    "info",
    "CELERY_REDIS_SOCKET_* configure the result backend",
    "CELERY_REDIS_SOCKET_TIMEOUT, _CONNECT_TIMEOUT, _KEEPALIVE and CELERY_REDIS_RETRY_ON_TIMEOUT "
    "are old names of redis_socket_* / redis_retry_on_timeout, which configure the Redis result "
    "backend only, never the broker connection.",
    "for the broker, set the option in broker_transport_options",
)
CEL012 = RuleInfo(
    "CEL012",
    "celery",
    "info",
    "retry_on_timeout in Redis transport options",
    "retry_on_timeout=True makes redis-py resend a command whose reply timed out: a publish "
    "that did reach Redis is published twice.",
    "leave retry_on_timeout unset, or accept duplicate publishes",
)
RULE_INFOS = (CEL004, CEL005, CEL006, CEL007, CEL008, CEL009, CEL010, CEL011, CEL012)


def _literal(value: Any) -> bool:
    return value is not ABSENT and not isinstance(value, Code)


def _show(value: Any) -> str:
    return value.source if isinstance(value, Code) else repr(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at(
    cf: CeleryFile,
    rule: RuleInfo,
    name: str,
    message: str,
    fix: str = "",
    severity: str | None = None,
) -> Finding:
    """A finding on the effective definition of setting ``name``."""
    line = cf.line(name)
    return finding(
        rule,
        cf.path,
        line,
        message,
        fix,
        column=cf.column(line, cf.spelled(name)),
        severity=severity,
    )


def broker_heartbeat_without_heartbeats(cf: CeleryFile, broker: Broker) -> list[Finding]:
    heartbeat = cf.value("broker_heartbeat")
    if broker.scheme not in REDIS_SCHEMES or heartbeat is ABSENT or heartbeat in (None, 0):
        return []
    key = cf.spelled("broker_heartbeat")
    return [
        _at(
            cf,
            CEL004,
            "broker_heartbeat",
            f"{key} = {_show(heartbeat)} does nothing with the {broker.scheme}:// broker: the "
            "Redis transport has no heartbeats",
        )
    ]


def redis_broker_blind_to_dead_peers(cf: CeleryFile, broker: Broker) -> list[Finding]:
    options = broker.options
    if broker.scheme not in REDIS_SCHEMES or options is None:
        return []
    missing: list[str] = []
    add: list[str] = []
    if broker.scheme != "redis+socket":
        keepalive = options.get("socket_keepalive", ABSENT)
        if keepalive is ABSENT or (_literal(keepalive) and not keepalive):
            shown = "unset" if keepalive is ABSENT else _show(keepalive)
            missing.append(
                f"socket_keepalive is {shown} (TCP keepalive off: a dead peer goes unnoticed)"
            )
            add += ["'socket_keepalive': True", f"'socket_keepalive_options': {KEEPALIVE_OPTIONS}"]
        elif options.get("socket_keepalive_options") in (ABSENT, None):
            missing.append(
                "socket_keepalive without socket_keepalive_options uses the OS timers "
                "(7200 s idle: about 2 h to notice a dead peer)"
            )
            add.append(f"'socket_keepalive_options': {KEEPALIVE_OPTIONS}")
    if options.get("socket_timeout", ABSENT) in (ABSENT, None):
        missing.append("socket_timeout is unset (a read on a dead connection waits forever)")
        add.append("'socket_timeout': 30")
    interval = options.get("health_check_interval", ABSENT)
    if _number(interval) and interval == 0:
        missing.append("health_check_interval is 0 (no health checks)")
        add.append("'health_check_interval': 25")
    if not missing:
        return []
    name = TRANSPORT if cf.line(TRANSPORT) else "broker_url"
    return [
        _at(
            cf,
            CEL005,
            name,
            f"{broker.scheme}:// broker: " + "; ".join(missing),
            f"add to broker_transport_options: {', '.join(add)}"
            + (" (import socket)" if "socket." in " ".join(add) else ""),
        )
    ]


def retry_disabled(cf: CeleryFile) -> list[Finding]:
    retry = cf.value("broker_connection_retry")
    if not _literal(retry) or retry:
        return []
    key = cf.spelled("broker_connection_retry")
    return [
        _at(
            cf,
            CEL006,
            "broker_connection_retry",
            f"{key} = {_show(retry)}: the worker does not reconnect after losing the broker",
            f"{key} = True",
        )
    ]


def _survival_seconds(retries: int, cap: int = 30) -> int:
    return sum(min(2 * attempt, cap) for attempt in range(1, retries + 1))


def few_retries(cf: CeleryFile) -> list[Finding]:
    retries = cf.value("broker_connection_max_retries")
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
        return []
    key = cf.spelled("broker_connection_max_retries")
    if retries == 0:
        what = (
            "no reconnection attempts at all (kombu 4.6.4+): the worker exits at the first outage"
        )
    else:
        what = (
            f"the worker exits after about {_survival_seconds(retries)} s of broker downtime "
            "(backoff 2, 4, 6 ... s)"
        )
    return [
        _at(
            cf,
            CEL007,
            "broker_connection_max_retries",
            f"{key} = {retries}: {what}",
            f"{key} = 100, or None to retry forever",
        )
    ]


def retry_on_startup_unset(cf: CeleryFile) -> list[Finding]:
    name = "broker_connection_retry_on_startup"
    if cf.value(name) is not ABSENT or cf.version_key < (5, 3):
        return []
    if not any(canonical(key, cf) for key in cf.settings):
        return []  # not a Celery configuration at all
    retry = cf.value("broker_connection_retry")
    retry_off = _literal(retry) and not retry
    if cf.version_key < (5, 5):
        message = (
            f"{cf.spelled(name)} is unset: Celery {cf.version} warns at every start "
            "(it follows broker_connection_retry)"
        )
    elif retry_off:
        message = (
            f"{cf.spelled(name)} is unset and broker_connection_retry is False: the first "
            f"connection is not retried either, and Celery {cf.version} warns at start"
        )
    else:
        return []
    line = cf.line("broker_connection_retry")
    where = "broker_connection_retry" if line else "broker_url"
    return [_at(cf, CEL008, where, message, f"{cf.spelled(name)} = True")]


def acks_late_without_cancel(cf: CeleryFile) -> list[Finding]:
    cancel = "worker_cancel_long_running_tasks_on_connection_loss"
    if (
        cf.version_key < (5, 1)
        or cf.value("task_acks_late") is not True
        or cf.value(cancel) is True
    ):
        return []
    key = cf.spelled("task_acks_late")
    value = cf.value(cancel)
    state = (
        f"with {cf.spelled(cancel)} = {_show(value)}"
        if value is not ABSENT
        else f"without {cf.spelled(cancel)}"
    )
    return [
        _at(
            cf,
            CEL009,
            "task_acks_late",
            f"{key} = True {state}: a task running when the broker "
            "connection is lost is redelivered and runs twice",
            f"{cf.spelled(cancel)} = True",
        )
    ]


def amqp_heartbeat_off(cf: CeleryFile, broker: Broker) -> list[Finding]:
    heartbeat = cf.value("broker_heartbeat")
    if broker.scheme not in AMQP_SCHEMES or not _literal(heartbeat):
        return []
    key = cf.spelled("broker_heartbeat")
    if heartbeat in (None, 0, False):
        what = (
            "disables AMQP heartbeats whatever the server suggests: a dead connection goes "
            "unnoticed until TCP gives up"
        )
    elif _number(heartbeat) and heartbeat < 5:
        what = "below 5 s, heartbeats give false positives"
    else:
        return []
    return [
        _at(
            cf,
            CEL010,
            "broker_heartbeat",
            f"{key} = {_show(heartbeat)} with the {broker.scheme}:// broker {what}",
            f"{key} = 60 (10 to 60)",
        )
    ]


def result_backend_settings_for_broker(cf: CeleryFile, broker: Broker) -> list[Finding]:
    if broker.scheme not in REDIS_SCHEMES:
        return []
    backend = schemes(resolved(cf.value("result_backend"), cf))
    note = ""
    redis_backend = len(backend) == 1 and next(iter(backend)) in REDIS_SCHEMES
    if len(backend) == 1 and not redis_backend:
        note = f" (and result_backend is {next(iter(backend))}://, so it does nothing at all)"
    findings = []
    for key, line in cf.keys().items():
        name = canonical(key, cf) or ""
        option = RESULT_BACKEND_REDIS.get(name)
        if option is None or (redis_backend and key == name):
            continue  # the new name beside a Redis result backend: meant for it (CEL014)
        fix = (
            f"for the broker use broker_transport_options['{option}']"
            if option != "retry_on_timeout"
            else "for the broker leave retry_on_timeout unset (it can duplicate publishes)"
        )
        findings.append(
            finding(
                CEL011,
                cf.path,
                line,
                f"{key} configures the Redis result backend, not the "
                f"{broker.scheme}:// broker{note}",
                fix,
                column=cf.column(line, key),
            )
        )
    return findings


def retry_on_timeout_option(cf: CeleryFile, broker: Broker) -> list[Finding]:
    options = broker.options
    if (
        broker.scheme not in REDIS_SCHEMES
        or not options
        or options.get("retry_on_timeout") is not True
    ):
        return []
    entry = flat_key(TRANSPORT, "retry_on_timeout")
    line = cf.line(entry) or cf.line(TRANSPORT)
    return [
        finding(
            CEL012,
            cf.path,
            line,
            "broker_transport_options retry_on_timeout = True: a publish whose reply "
            "timed out is sent again, and Redis may then hold it twice",
            column=cf.column(line, "retry_on_timeout"),
        )
    ]


def check_celery(doc: Document, facts: Facts) -> list[Finding]:
    cf = read_celery_file(doc, facts)
    broker = read_broker(cf)
    return [
        *check_names(cf),
        *broker_heartbeat_without_heartbeats(cf, broker),
        *redis_broker_blind_to_dead_peers(cf, broker),
        *retry_disabled(cf),
        *few_retries(cf),
        *retry_on_startup_unset(cf),
        *acks_late_without_cancel(cf),
        *amqp_heartbeat_off(cf, broker),
        *result_backend_settings_for_broker(cf, broker),
        *retry_on_timeout_option(cf, broker),
        *check_worker_side(cf, broker, facts),
    ]
