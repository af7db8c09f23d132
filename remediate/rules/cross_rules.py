"""Cross-component rules (X001-X003): what two files of one host say together.

* X001: a Celery Redis broker whose transport options cannot beat the Redis server's
  ``timeout``: no ``socket_keepalive`` and ``health_check_interval`` >= timeout, or
  ``health_check_interval`` 0, with ``timeout`` > 0.
* X002: an AMQP client heartbeat (``broker_heartbeat``, default 120) that the server's
  ``heartbeat`` (default 60) overrides. py-amqp: if either is 0 take the larger, else the
  smaller; a client 0 disables heartbeats. Silent when neither side sets its value.
* X003: Redis ``maxclients`` + 32 above the ``LimitNOFILE`` hard limit of the redis unit
  (a systemd document whose path mentions redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import CeleryFile, read_celery_file
from remediate.rules.celery_rules import AMQP_SCHEMES, REDIS_SCHEMES, read_broker
from remediate.rules.limits_rules import hard_limit, mentions, value_column
from remediate.rules.rabbitmq_rules import DEFAULT_HEARTBEAT, effective_heartbeat
from remediate.rules.redis_rules import DEFAULT_MAXCLIENTS, RESERVED_FDS

CELERY_HEARTBEAT = 120  # broker_heartbeat's default
KOMBU_HEALTH_CHECK = 25  # kombu's health_check_interval default

X001 = RuleInfo(
    "X001",
    "cross",
    "info",
    "Celery's Redis connections idle past the server's timeout",
    "Redis closes clients idle longer than its timeout. The close is clean and redis-py "
    "reconnects, but a Celery broker connection without socket_keepalive whose "
    "health_check_interval is not below the timeout (or is 0) is closed under it between "
    "tasks, and every reconnect is a chance to fail. timeout 0 is the advice for a broker.",
    "timeout 0 in redis.conf (live), or broker_transport_options health_check_interval below "
    "the timeout with socket_keepalive",
)
X002 = RuleInfo(
    "X002",
    "cross",
    "info",
    "the server's heartbeat overrides Celery's broker_heartbeat",
    "The server only suggests a heartbeat; py-amqp negotiates the smaller of the two values, "
    "or the larger when either is 0 (a client 0 disables heartbeats). So a broker_heartbeat "
    "above the server's heartbeat is not what the connection uses.",
    "set broker_heartbeat and the server's heartbeat to the same value (60)",
)
X003 = RuleInfo(
    "X003",
    "cross",
    "warning",
    "Redis maxclients beyond the unit's LimitNOFILE",
    "Redis needs maxclients + 32 file descriptors; under systemd the unit's LimitNOFILE caps "
    "them, and Redis lowers maxclients (with only a log warning) when the hard limit blocks it.",
    "raise LimitNOFILE in the redis-server unit (a drop-in) to at least maxclients + 32",
)
RULE_INFOS = (X001, X002, X003)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _celery_files(docs: Sequence[Document], facts: Facts) -> list[CeleryFile]:
    return [read_celery_file(doc, facts) for doc in docs if doc.kind == "celery"]


def _redis_servers(docs: Sequence[Document]) -> list[Any]:
    return [doc for doc in docs if doc.kind == "redis" and getattr(doc, "flavor", "") == "server"]


def negotiated_heartbeat(client: int, server: int) -> int:
    """What py-amqp uses for a connection."""
    if not client:
        return 0
    if not server:
        return client
    return min(client, server)


def idle_past_redis_timeout(celery: list[CeleryFile], redis: list[Any]) -> list[Finding]:
    findings = []
    for server in redis:
        timeout = _int(server.settings_value("timeout"))
        if not timeout or timeout <= 0:
            continue
        where = f"{server.path}:{server.line_of('timeout')}"
        for cf in celery:
            broker = read_broker(cf)
            if broker.scheme not in REDIS_SCHEMES or broker.options is None:
                continue
            keepalive = broker.options.get("socket_keepalive", ABSENT)
            interval = broker.options.get("health_check_interval", KOMBU_HEALTH_CHECK)
            if not isinstance(interval, (int, float)) or isinstance(interval, bool):
                continue
            has_keepalive = keepalive not in (ABSENT, None, False, 0)
            if interval == 0:
                why = "health_check_interval is 0"
            elif not has_keepalive and interval >= timeout:
                why = (
                    f"health_check_interval is {interval} (not below it) and socket_keepalive "
                    "is unset"
                )
            else:
                continue
            name = (
                "broker_transport_options" if cf.line("broker_transport_options") else "broker_url"
            )
            line = cf.line(name)
            findings.append(
                finding(
                    X001,
                    cf.path,
                    line,
                    f"Redis closes clients idle for {timeout} s (timeout {timeout}, {where}) and this "
                    f"{broker.scheme}:// broker cannot keep ahead of it: {why}",
                    f"timeout 0 in {server.path}, or broker_transport_options "
                    f"health_check_interval below {timeout} with socket_keepalive True",
                    column=cf.column(line, cf.spelled(name)),
                )
            )
    return findings


def heartbeat_overridden(celery: list[CeleryFile], docs: Sequence[Document]) -> list[Finding]:
    if not any(doc.kind == "rabbitmq" for doc in docs):
        return []
    written, source = effective_heartbeat(docs)
    server = DEFAULT_HEARTBEAT if written is None else written
    server_where = (
        f"heartbeat = {server} ({source.path}:{source.line_of('heartbeat')})"
        if source is not None
        else f"heartbeat unset (RabbitMQ's default {server})"
    )
    findings = []
    for cf in celery:
        broker = read_broker(cf)
        if broker.scheme not in AMQP_SCHEMES:
            continue
        value = cf.value("broker_heartbeat")
        client_set = value is not ABSENT
        client = CELERY_HEARTBEAT if value is ABSENT else value
        if client is None or client is False:
            client = 0
        if not isinstance(client, (int, float)) or (not client_set and source is None):
            continue
        client = int(client)
        negotiated = negotiated_heartbeat(client, server)
        if negotiated == client:
            continue
        name = cf.spelled("broker_heartbeat")
        shown = f"{name} = {client}" if client_set else f"{name} unset (Celery's default {client})"
        anchor = "broker_heartbeat" if client_set else "broker_url"
        line = cf.line(anchor)
        findings.append(
            finding(
                X002,
                cf.path,
                line,
                f"{shown} but the server's {server_where}: py-amqp negotiates {negotiated} s",
                f"{name} = {server}, or heartbeat = {client} on the server",
                column=cf.column(line, cf.spelled(anchor)),
            )
        )
    return findings


def maxclients_beyond_unit(redis: list[Any], docs: Sequence[Document]) -> list[Finding]:
    units = [doc for doc in docs if doc.kind == "systemd" and mentions(doc.path, "redis")]
    findings = []
    for unit in units:
        value = unit.settings().get("Service.LimitNOFILE")
        hard = hard_limit(value) if value else None
        if hard is None:
            continue
        for server in redis:
            maxclients = _int(server.settings_value("maxclients")) or DEFAULT_MAXCLIENTS
            if maxclients + RESERVED_FDS <= hard:
                continue
            line = server.line_of("maxclients")
            origin = (
                f"maxclients {maxclients} ({server.path}:{line})"
                if line
                else f"maxclients unset in {server.path} (default {maxclients})"
            )
            unit_line = unit.line_of("Service.LimitNOFILE")
            findings.append(
                finding(
                    X003,
                    unit.path,
                    unit_line,
                    f"LimitNOFILE={value} allows {hard} file descriptors but {origin} needs "
                    f"{maxclients + RESERVED_FDS}: Redis lowers maxclients to "
                    f"{max(hard - RESERVED_FDS, 1)}",
                    f"LimitNOFILE={maxclients + RESERVED_FDS} or more",
                    column=value_column(unit, unit_line),
                )
            )
    return findings


def check_cross(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    celery = _celery_files(docs, facts)
    redis = _redis_servers(docs)
    return [
        *idle_past_redis_timeout(celery, redis),
        *heartbeat_overridden(celery, docs),
        *maxclients_beyond_unit(redis, docs),
    ]
