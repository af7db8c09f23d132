"""MNF002: Celery broker connections that go quiet for longer than a middlebox on the path
allows. The X004 class of DOMAIN.md's table ("the path's idle limit not covered"), with the
limit read from a manifest (HAProxy of the redis-ha chart, an AWS NLB, Azure Cache for Redis)
instead of the ``remediate_path_idle_timeout`` host variable. When X004 lands, it can take
``IdleLimit`` facts as its limit and this rule can go.

What keeps a connection through the limit (DOMAIN.md, "Keepalive is not enough everywhere"):
* Redis broker: the transport's ``health_check_interval`` (kombu's default 25 s) below the
  limit; or, where the middlebox counts TCP keepalives as traffic (NAT, NLB) and not only data
  (HAProxy, Azure Cache for Redis), ``socket_keepalive`` with a ``TCP_KEEPIDLE`` below it.
* AMQP broker: heartbeat frames every heartbeat/2 s (the negotiated heartbeat: the smaller of
  Celery's ``broker_heartbeat``, default 120, and the server's, default 60), below the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.lint.manifests.embedded import IdleLimit
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding

MNF002 = RuleInfo(
    "MNF002",
    "cross",
    "warning",
    "broker connection idle past a limit on the path",
    "A proxy, load balancer or managed service between workers and broker closes flows idle "
    "longer than its limit. Proxies that count only data (HAProxy timeout client/server, Azure "
    "Cache for Redis) ignore TCP keepalives: only the Redis transport's health_check_interval "
    "PING or AMQP heartbeats keep the flow. A worker whose connection was closed under it "
    "reconnects at best, and at worst sits on a half-open connection (the silent wedge).",
    "health_check_interval (Redis) or broker_heartbeat/2 (AMQP) below the path's idle limit; "
    "or raise the limit",
)
RULE_INFOS = (MNF002,)
KOMBU_HEALTH_CHECK = 25
CELERY_HEARTBEAT = 120
SERVER_HEARTBEAT = 60


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _keepidle(options: dict[Any, Any]) -> float | None:
    """TCP_KEEPIDLE from ``socket_keepalive_options`` when keepalive is on (7200: OS default)."""
    keepalive = options.get("socket_keepalive", ABSENT)
    if keepalive in (ABSENT, None, False, 0):
        return None
    extra = options.get("socket_keepalive_options")
    if isinstance(extra, dict):
        for key, value in extra.items():
            if str(getattr(key, "source", key)).endswith("TCP_KEEPIDLE"):
                return _number(value)
    return 7200.0


def idle_path_findings(
    docs: Sequence[Document], limits: Sequence[IdleLimit], facts: Facts
) -> list[Finding]:
    """Findings on each Celery document of the group, against the tightest limit."""
    from remediate.rules.celery_file import read_celery_file
    from remediate.rules.celery_rules import AMQP_SCHEMES, REDIS_SCHEMES, read_broker

    if not limits:
        return []
    out: list[Finding] = []
    for doc in docs:
        if doc.kind != "celery":
            continue
        cf = read_celery_file(doc, facts)
        broker = read_broker(cf)
        for limit in sorted(limits, key=lambda x: (x.seconds, x.path, x.line))[:1]:
            where = f"{limit.what}, {limit.path}:{limit.line}"
            if broker.scheme in REDIS_SCHEMES and broker.options is not None:
                interval = _number(broker.options.get("health_check_interval", KOMBU_HEALTH_CHECK))
                if interval is None:
                    continue
                keepidle = _keepidle(broker.options)
                if 0 < interval < limit.seconds or (
                    not limit.data_only and keepidle is not None and keepidle < limit.seconds
                ):
                    continue
                shown = "0 (off)" if interval == 0 else f"{interval:g} s"
                name = (
                    "broker_transport_options"
                    if cf.line("broker_transport_options")
                    else "broker_url"
                )
                line = cf.line(name)
                out.append(
                    finding(
                        MNF002,
                        cf.path,
                        line,
                        f"the path closes flows idle for {limit.seconds:g} s ({where}) but this "
                        f"{broker.scheme}:// broker's health_check_interval is {shown}"
                        + (
                            " and only data keeps this path open"
                            if limit.data_only
                            else " and no TCP keepalive idles below it"
                        ),
                        f"broker_transport_options health_check_interval below {limit.seconds:g}",
                        column=cf.column(line, cf.spelled(name)),
                    )
                )
            elif broker.scheme in AMQP_SCHEMES:
                value = cf.value("broker_heartbeat")
                client = CELERY_HEARTBEAT if value is ABSENT else _number(value or 0)
                if client is None:
                    continue
                negotiated = 0.0 if not client else min(client, SERVER_HEARTBEAT)
                if negotiated and negotiated / 2 < limit.seconds:
                    continue
                name = "broker_heartbeat" if value is not ABSENT else "broker_url"
                line = cf.line(name)
                out.append(
                    finding(
                        MNF002,
                        cf.path,
                        line,
                        f"the path closes flows idle for {limit.seconds:g} s ({where}) but AMQP "
                        + (
                            "heartbeats are off"
                            if not negotiated
                            else f"heartbeat frames go every {negotiated / 2:g} s"
                        ),
                        f"broker_heartbeat below {2 * limit.seconds:g}",
                        column=cf.column(line, cf.spelled(name)),
                    )
                )
    return out
