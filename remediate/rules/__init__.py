"""Domain rules (DOMAIN.md's table, plus the cross-component X rules): pure functions over
parsed documents and, where a rule needs them, runtime facts.

Public API (used by `lint`, `plan` and `audit`):

    from remediate.rules import RULES, Facts, check, check_together
    findings = check(doc, facts)                 # one parsed document (any kind)
    findings += check_together(docs, facts)      # rules that need both sides (celery + redis ...)

Every finding is a ``remediate.model.plans.Finding``. Inline suppressions
(``# remediate: ignore CEL004`` on the line or the line above) set ``suppressed=True``;
suppressed findings are kept (SARIF reports them as suppressions), never dropped.

``check`` runs the rules of one file: its settings, the lines its program refuses and, with
``Facts``, the runtime rules that compare that file with the running server (RDS004, RDS006).
``check_together`` runs the rules that need several files of one host: the X rules, and the
RabbitMQ runtime rules (RMQ004, RMQ005), which judge the node's merged configuration
(``rabbitmq.conf`` plus ``conf.d/*.conf``) once rather than once per file. Runtime rules stay
silent when the fact they need is None (``lint`` knows no runtime facts).

Ids beyond DOMAIN.md's table: RMQ006 (a rabbitmq.conf line RabbitMQ refuses), RMQ007
(LimitNOFILE below 65536 in a rabbitmq-server unit), LIM002 (a limits row pam skips), SYS001 (a
unit line systemd ignores), SHL001 (a line the sourcing shell stops at), X001-X003 (cross).
Modules: celery_names (CEL001-003), celery_rules, redis_rules, rabbitmq_rules, limits_rules
(limits, systemd, /etc/default), cross_rules, suppress.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from remediate.formats.base import Document
from remediate.model.plans import Finding


@dataclass(frozen=True)
class RuleInfo:
    id: str  # stable: CEL001 ... (part of the contract)
    kind: str  # celery | redis | rabbitmq | limits | systemd | shell | cross
    severity: str  # info | warning | error (the default; a rule may raise it, e.g. RDS003)
    title: str  # one line: what is wrong
    help: str  # why it matters (DOMAIN.md facts), for SARIF help text and `lint --explain`
    fix: str  # the suggested fix


@dataclass(frozen=True)
class Facts:
    """What rules may know beyond the file itself. Every field optional (lint knows none)."""

    celery_version: str | None = None  # "5.7"; None = newest supported
    file_mode: str | None = None  # "0644": for RDS007 (a secret readable by others)
    redis_live: dict[str, str] | None = None  # CONFIG GET values of the running server
    redis_nofile_hard: int | None = None  # hard "Max open files" of the running redis-server
    beam_nofile_soft: int | None = None  # soft "Max open files" of the running beam.smp
    rabbitmq_live_heartbeat: int | None = None  # application:get_env(rabbit, heartbeat)
    rabbitmq_running: bool | None = None


def finding(rule: RuleInfo, path: str, line: int | None, message: str, fix: str = "",
            column: int | None = None, severity: str | None = None) -> Finding:
    """A Finding of ``rule``: its id and kind, its default severity unless raised here, and
    its generic fix unless the finding has a more specific one."""
    return Finding(rule.id, severity or rule.severity, rule.kind, path, line, message,
                   fix or rule.fix, column)


_LINE_ENDS = re.compile(r"\r\n|\n|\r")
_LF_ENDS = re.compile(r"\r?\n")


def line_text(doc: Document, line: int) -> str:
    """The text of 1-based ``line`` of ``doc`` without its ending ("" past the end); systemd
    also ends a line at a lone CR. For columns of findings: call it once per finding."""
    text = doc.dump().decode("utf-8", "surrogateescape")
    lines = (_LINE_ENDS if doc.kind == "systemd" else _LF_ENDS).split(text)
    return lines[line - 1] if 0 < line <= len(lines) else ""


def first_column(text: str) -> int:
    """1-based column of the first character that is not a blank."""
    return len(text) - len(text.lstrip(" \t")) + 1


# The rule modules build on RuleInfo, Facts, finding() and line_text() above.
from remediate.rules import (
    celery_names,
    celery_rules,
    cross_rules,
    limits_rules,
    rabbitmq_rules,
    redis_rules,
)
from remediate.rules.suppress import apply_suppressions

RULES: dict[str, RuleInfo] = {
    info.id: info
    for module in (celery_names, celery_rules, redis_rules, rabbitmq_rules, limits_rules,
                   cross_rules)
    for info in module.RULE_INFOS
}

_CHECKS = {
    "celery": celery_rules.check_celery,
    "redis": redis_rules.check_redis,
    "rabbitmq": rabbitmq_rules.check_rabbitmq,
    "limits": limits_rules.check_limits,
    "systemd": limits_rules.check_systemd,
    "shell": limits_rules.check_shell,
}


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line or 0, f.column or 0, f.rule, f.message))


def check(doc: Document, facts: Facts | None = None) -> list[Finding]:
    """Every finding of one parsed document, in line order; suppressed ones flagged."""
    rules_of_kind = _CHECKS.get(doc.kind)
    if rules_of_kind is None:
        raise ValueError(f"no rules for documents of kind {doc.kind!r}")
    findings = rules_of_kind(doc, facts or Facts())
    return _ordered(apply_suppressions(doc, findings))


def check_together(docs: Sequence[Document], facts: Facts | None = None) -> list[Finding]:
    """The findings that need several documents of one host (or of one lint run): the
    cross-component X rules and the RabbitMQ runtime rules over the merged node config."""
    facts = facts or Facts()
    findings = (cross_rules.check_cross(docs, facts)
                + rabbitmq_rules.check_rabbitmq_node(docs, facts))
    by_path: dict[str, Document] = {}
    for doc in docs:
        by_path.setdefault(doc.path, doc)
    out: list[Finding] = []
    for path, doc in by_path.items():
        out += apply_suppressions(doc, [f for f in findings if f.path == path])
    out += [f for f in findings if f.path not in by_path]
    return _ordered(out)


__all__ = ["RULES", "Facts", "RuleInfo", "check", "check_together", "finding", "first_column",
           "line_text"]
