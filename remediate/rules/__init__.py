"""Domain rules: DOMAIN.md's table and the cross-component X rules, as pure functions.

Pure functions over parsed documents and, where a rule needs them, runtime facts.

Public API (used by `lint`, `plan` and `audit`):

    from remediate.rules import RULES, Facts, check, check_together
    findings = check(doc, facts)                 # one parsed document (any kind)
    findings += check_together(docs, facts)      # rules that need both sides (celery + redis ...)

Every finding is a ``remediate.model.plans.Finding``. Inline suppressions
(``# remediate: ignore CEL004`` on the line or the line above) set ``suppressed=True``;
suppressed findings are kept (SARIF reports them as suppressions), never dropped.

``check`` runs the rules of one file: its settings, the lines its program refuses and, with
``Facts``, the runtime rules that compare that file with the running server (RDS004, RDS006).
``check_together`` runs the rules that need several files of one host: the X rules, the
RabbitMQ runtime rules (RMQ004, RMQ005), which judge the node's merged configuration
(``rabbitmq.conf`` plus ``conf.d/*.conf``) once rather than once per file, RMQ008
(consumer_timeout against the Celery files), SYS002 for systemd units (a unit with its
drop-ins; on hosts also the unit a running worker's cgroup names, read with the worker facts) and the PKG rules of lock files against the Celery files' broker. Runtime rules stay
silent when the fact they need is None (``lint`` knows no runtime facts).

Ids beyond DOMAIN.md's table: RMQ006 (a rabbitmq.conf line RabbitMQ refuses), RMQ007
(LimitNOFILE below 65536 in a rabbitmq-server unit), RMQ010 (``ulimit -n`` in rabbitmq-env.conf
caps the node under every init system), LIM002 (a limits row pam skips), SYS001 (a unit line
systemd ignores), SHL001 (a line the sourcing shell stops at), X001-X003 (cross), RDS010 (a
running redis-server runs from a file the playbook does not manage, or from none), RDS011 (a
managed redis.conf no running redis-server uses while redis-server processes run), PLB001 (a
playbook path pattern that matches no file on the host). RDS010, RDS011 and PLB001 are host
findings: they need ``Facts.redis_instances`` / ``Facts.unmatched_paths`` (plan and audit).
Modules: celery_names (CEL001-003), celery_rules, celery_worker_rules (CEL013-016),
redis_rules, redis_access_rules (RDS008-009), rabbitmq_rules (with RMQ009),
consumer_timeout_rules (RMQ008), limits_rules (limits, systemd, /etc/default, RMQ010),
supervision_rules (SYS002), package_rules (PKG001-004), cross_rules, path_rules (X004),
instance_rules (RDS010, RDS011, PLB001), suppress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules import (
    celery_names,
    celery_rules,
    celery_worker_rules,
    consumer_timeout_rules,
    cross_rules,
    instance_rules,
    limits_rules,
    manifest_rules,
    package_rules,
    path_rules,
    rabbitmq_rules,
    redis_access_rules,
    redis_rules,
    supervision_rules,
)
from remediate.rules.base import Facts, RuleInfo, finding, first_column, line_text
from remediate.rules.suppress import apply_suppressions

RULES: dict[str, RuleInfo] = {
    info.id: info
    for module in (
        celery_names,
        celery_rules,
        celery_worker_rules,
        redis_rules,
        redis_access_rules,
        rabbitmq_rules,
        limits_rules,
        cross_rules,
        consumer_timeout_rules,
        path_rules,
        supervision_rules,
        package_rules,
        instance_rules,
    )
    for info in module.RULE_INFOS
}

_CHECKS: dict[str, tuple[Callable[[Document, Facts], list[Finding]], ...]] = {
    "celery": (celery_rules.check_celery, package_rules.check_celery_workers),
    "redis": (redis_rules.check_redis, redis_access_rules.check_redis_access),
    "rabbitmq": (rabbitmq_rules.check_rabbitmq,),
    "limits": (limits_rules.check_limits,),
    "systemd": (limits_rules.check_systemd,),
    "shell": (limits_rules.check_shell,),
    "supervisord": (supervision_rules.check_supervisord,),
    "python-lock": (package_rules.check_lock,),
    "helm-values": (manifest_rules.check_manifest,),
    "compose-file": (manifest_rules.check_manifest,),
}


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line or 0, f.column or 0, f.rule, f.message))


def check(doc: Document, facts: Facts | None = None) -> list[Finding]:
    """Every finding of one parsed document, in line order; suppressed ones flagged."""
    rules_of_kind = _CHECKS.get(doc.kind)
    if rules_of_kind is None:
        raise ValueError(f"no rules for documents of kind {doc.kind!r}")
    facts = facts or Facts()
    findings = [found for rules in rules_of_kind for found in rules(doc, facts)]
    return _ordered(apply_suppressions(doc, findings))


def check_together(docs: Sequence[Document], facts: Facts | None = None) -> list[Finding]:
    """The findings that need several documents of one host (or of one lint run): the
    cross-component X rules and the RabbitMQ runtime rules over the merged node config."""
    facts = facts or Facts()
    findings = (
        cross_rules.check_cross(docs, facts)
        + rabbitmq_rules.check_rabbitmq_node(docs, facts)
        + consumer_timeout_rules.consumer_timeout_below_tasks(docs, facts)
        + path_rules.path_idle_limit(docs, facts)
        + supervision_rules.worker_units_without_restart(docs, facts)
        + supervision_rules.running_workers_without_restart(docs, facts)
        + package_rules.check_locks_with_celery(docs, facts)
        + instance_rules.check_instances(docs, facts)
    )
    by_path: dict[str, Document] = {}
    for doc in docs:
        by_path.setdefault(doc.path, doc)
    out: list[Finding] = []
    for path, doc in by_path.items():
        out += apply_suppressions(doc, [f for f in findings if f.path == path])
    out += [f for f in findings if f.path not in by_path]
    return _ordered(out)


__all__ = [
    "RULES",
    "Facts",
    "RuleInfo",
    "check",
    "check_together",
    "finding",
    "first_column",
    "line_text",
]
