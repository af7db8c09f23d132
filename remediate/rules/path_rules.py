"""X004: the network path between worker and broker closes idle flows, and the Celery file's
timers do not beat it.

The path's idle limit is a host fact (host variable ``remediate_path_idle_timeout``,
``Facts.path_idle_timeout``; ``lint --path-idle-timeout``): without it the rule is silent.
Known limits: AWS NLB 350 s (fixed for TLS listeners), Azure Cache for Redis 600 s, Azure Load
Balancer 240 s (default), GCP Cloud NAT 1200 s (established TCP), Envoy 3600 s (default), the
redis-ha chart's HAProxy 330 s (30 s before December 2020).

What must be below the limit:

* Redis broker: ``health_check_interval`` (default 25; redis-py PINGs a connection idle that
  long before using it) and, with ``socket_keepalive``, the keepalive idle time
  (``TCP_KEEPIDLE`` in ``socket_keepalive_options``; the OS default 7200 without it);
* AMQP broker: the heartbeat interval, half the negotiated heartbeat (py-amqp's
  ``broker_heartbeat`` 120 against the server's, 60 by default: the smaller, or the larger when
  one is 0).

Keepalive probes carry no data: a proxy or load balancer that counts only data (HAProxy,
classic load balancers, Azure Cache for Redis; ``remediate_path_counts_data``) closes the flow
anyway, so there a path kept open by keepalive alone (no health check, no heartbeat) is
reported too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.formats.celery_values import Code, flat_key
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import (
    AMQP_SCHEMES,
    REDIS_SCHEMES,
    TRANSPORT,
    CeleryFile,
    read_broker,
    read_celery_file,
)
from remediate.rules.rabbitmq_rules import DEFAULT_HEARTBEAT, effective_heartbeat

CELERY_HEARTBEAT = 120
KOMBU_HEALTH_CHECK = 25
OS_KEEPALIVE_IDLE = 7200  # Linux net.ipv4.tcp_keepalive_time
TCP_KEEPIDLE = 4  # the Linux constant, when a file writes the number

X004 = RuleInfo(
    "X004",
    "cross",
    "warning",
    "the broker path's idle limit is not covered",
    "NAT gateways, load balancers and proxies drop flows idle longer than their limit, and the "
    "worker learns it only at its next read or write. Known limits: AWS NLB 350 s, Azure Cache "
    "for Redis 600 s, Azure Load Balancer 240 s, GCP Cloud NAT 1200 s, Envoy 3600 s. Redis "
    "health_check_interval, the AMQP heartbeat interval (half the negotiated heartbeat) and the "
    "TCP keepalive idle time must be below the limit; keepalive probes carry no data, so behind "
    "a proxy that counts data only, keepalive alone does not keep the flow open.",
    "lower them below the path's idle limit (health_check_interval, broker_heartbeat, "
    "TCP_KEEPIDLE in socket_keepalive_options)",
)
RULE_INFOS = (X004,)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def keepalive_idle(options: dict[Any, Any]) -> int | float | None:
    """TCP_KEEPIDLE of ``socket_keepalive_options``: its value, the OS default without one,
    None when keepalive is off or the value cannot be read."""
    keepalive = options.get("socket_keepalive", ABSENT)
    if keepalive in (ABSENT, None, False, 0):
        return None
    extra = options.get("socket_keepalive_options", ABSENT)
    if extra in (ABSENT, None):
        return OS_KEEPALIVE_IDLE
    if not isinstance(extra, dict):
        return None
    for key, value in extra.items():
        named = isinstance(key, Code) and key.source.endswith("TCP_KEEPIDLE")
        if (named or key == TCP_KEEPIDLE) and _number(value):
            return value  # type: ignore[no-any-return]
    return OS_KEEPALIVE_IDLE


def _line(cf: CeleryFile, *keys: str) -> tuple[int | None, str]:
    for key in keys:
        line = cf.line(key)
        if line:
            return line, key.split("'")[1] if "[" in key else cf.spelled(key)
    return None, ""


def _redis_path(
    cf: CeleryFile, scheme: str, options: dict[Any, Any], limit: int, counts_data: bool
) -> list[Finding]:
    problems: list[str] = []
    interval = options.get("health_check_interval", KOMBU_HEALTH_CHECK)
    if not _number(interval):
        return []
    shown = "" if "health_check_interval" in options else " (kombu's default)"
    if interval and interval >= limit:
        problems.append(f"health_check_interval {interval:g}{shown} is not below it")
    idle = keepalive_idle(options) if scheme != "redis+socket" else None
    if idle is not None and idle >= limit:
        what = (
            "the OS default 7200 (no TCP_KEEPIDLE in socket_keepalive_options)"
            if idle == OS_KEEPALIVE_IDLE and "socket_keepalive_options" not in options
            else f"{idle:g}"
        )
        problems.append(f"the keepalive idle time is {what}")
    if not interval and counts_data:
        problems.append(
            "health_check_interval is 0, so only TCP keepalive (no data) crosses a "
            "path that counts data only"
        )
    if not problems:
        return []
    line, text = _line(
        cf,
        flat_key(TRANSPORT, "health_check_interval"),
        flat_key(TRANSPORT, "socket_keepalive_options"),
        TRANSPORT,
        "broker_url",
    )
    return [
        finding(
            X004,
            cf.path,
            line,
            f"the path to the {scheme}:// broker closes flows idle for {limit} s: "
            + "; ".join(problems),
            f"broker_transport_options health_check_interval below {limit} (e.g. "
            f"{min(KOMBU_HEALTH_CHECK, max(limit // 2, 1))}) and TCP_KEEPIDLE below "
            f"{limit}",
            column=cf.column(line, text),
        )
    ]


def _amqp_path(
    cf: CeleryFile, scheme: str, docs: Sequence[Document], limit: int, counts_data: bool
) -> list[Finding]:
    value = cf.value("broker_heartbeat")
    client = CELERY_HEARTBEAT if value is ABSENT else value
    if client in (None, False):
        client = 0
    if not _number(client):
        return []
    written, _ = effective_heartbeat(docs)
    server = DEFAULT_HEARTBEAT if written is None else written
    negotiated = 0 if not client else client if not server else min(client, server)
    if negotiated:
        beat = negotiated / 2
        if beat < limit:
            return []
        problem = (
            f"heartbeats go out every {beat:g} s (half the negotiated {negotiated:g}: "
            f"client {client:g}, server {server})"
        )
    elif counts_data:
        problem = "heartbeats are off, so nothing but TCP keepalive (no data) crosses it"
    else:
        return []
    line, text = _line(cf, "broker_heartbeat", "broker_url")
    return [
        finding(
            X004,
            cf.path,
            line,
            f"the path to the {scheme}:// broker closes flows idle for {limit} s: {problem}",
            f"broker_heartbeat = {min(60, limit)} and the server's "
            f"heartbeat below {2 * limit} (heartbeats go out every half of it)",
            column=cf.column(line, text),
        )
    ]


def path_idle_limit(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    limit = facts.path_idle_timeout
    if not limit or limit <= 0:
        return []
    findings: list[Finding] = []
    for doc in docs:
        if doc.kind != "celery":
            continue
        cf = read_celery_file(doc, facts)
        broker = read_broker(cf)
        if broker.scheme in REDIS_SCHEMES and broker.options is not None:
            findings += _redis_path(
                cf, broker.scheme, broker.options, limit, facts.path_counts_data
            )
        elif broker.scheme in AMQP_SCHEMES:
            findings += _amqp_path(cf, broker.scheme, docs, limit, facts.path_counts_data)
    return findings
