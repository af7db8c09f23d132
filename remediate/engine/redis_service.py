"""Survey a Redis service reached over its protocol only (``ansible_connection: redis``).

The live values (``CONFIG GET``, else ``INFO``) become a virtual redis.conf that the same
rules judge, so a managed broker gets the findings any Redis gets, placed on
``redis://address:port``. Settings that could not be read are a warning finding naming them
(never an "ok" by omission). Nothing is planned: there is no file, and apply refuses.
"""

from __future__ import annotations

from typing import Any

from remediate.errors import CommandFailed, ConnectionFailed
from remediate.formats import redis_conf
from remediate.model.facts import HostFacts
from remediate.model.plans import Finding, HostPlan
from remediate.remote.redis_protocol import (
    RedisProtocolConnection,
    ServiceRead,
    celery_idle,
    live_settings,
    virtual_conf,
)
from remediate.rules import Facts, check

#: the rule id of "live settings this service does not let us read"
NOT_READ = "SVC001"


def service_findings(read: ServiceRead, where: str) -> tuple[list[Finding], dict[str, Any]]:
    """Pure: the findings on a service's live values and the facts shown with them."""
    values, missing = live_settings(read)
    facts: dict[str, Any] = {
        "via": "redis protocol (no shell)",
        "address": where,
        "version": read.info.get("redis_version", ""),
        "config": dict(sorted(values.items())),
        **celery_idle(read.clients),
    }
    if read.clients_refused:
        facts["client_list"] = f"refused: {read.clients_refused}"
    findings: list[Finding] = []
    if values:
        doc = redis_conf.parse(virtual_conf(values), where)
        used = read.info.get("used_memory", "")
        rule_facts = Facts(
            redis_version=read.info.get("redis_version") or None,
            redis_used_memory=int(used) if used.isdigit() else None,
        )
        findings = [
            Finding(
                f.rule,
                f.severity,
                f.kind,
                where,
                None,
                f.message,
                f"{f.fix}; on a managed service: in its parameter group (apply cannot)",
                None,
                f.suppressed,
            )
            for f in check(doc, rule_facts)
        ]
    if read.config_refused:
        facts["state"] = f"unknown: CONFIG GET refused ({read.config_refused})"
        reason = (
            f"CONFIG GET is refused ({read.config_refused}): managed services (ElastiCache, "
            "Memorystore) block CONFIG, a self-run server may rename it away. "
        )
    else:
        facts["state"] = "read" if not missing else f"unknown: {', '.join(missing)} not reported"
        reason = ""
    if missing:
        findings.append(
            Finding(
                NOT_READ,
                "warning",
                "redis",
                where,
                None,
                f"{reason}Not audited: {', '.join(missing)} (INFO does not report them); "
                + (
                    "maxmemory, maxmemory-policy and maxclients were read from INFO."
                    if read.config_refused and values
                    else "nothing stands in for them."
                ),
                "read them in the provider's parameter group (or `remediate lint` its "
                "Terraform file), or allow CONFIG GET for this user",
            )
        )
    return findings, facts


def survey_service(conn: RedisProtocolConnection, timeout: float) -> tuple[HostPlan, HostFacts]:
    """The plan of one Redis service: findings and facts, no file, no change."""
    host = conn.host
    read = conn.read(timeout)
    if read.error and not read.reached:
        raise ConnectionFailed(read.error, host=host.name)
    if read.error:
        raise CommandFailed(read.error, host=host.name)
    findings, facts = service_findings(read, str(conn.service))
    plan = HostPlan(host.name, str(conn.service), facts={"redis": facts}, findings=tuple(findings))
    return plan, HostFacts({})
