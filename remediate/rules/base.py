"""The types every rule module shares: a rule's description, the facts a rule may know beyond
its file, and how a finding is made and placed (line text, first column)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from remediate.formats.base import Document
from remediate.model.facts import RedisInstance
from remediate.model.plans import Finding
from remediate.model.workers import WorkerFact


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
    rabbitmq_version: str | None = None  # "4.3.0" of the running node (RMQ009, RMQ008, PKG003)
    redis_version: str | None = None  # "7.2.4" of the running server; None = assume >= 7 (RDS008)
    redis_used_memory: int | None = None  # INFO memory used_memory, bytes (RDS009)
    #: the running Celery workers of the host (CEL015, CEL016, PKG001-PKG004); None: not gathered
    workers: tuple[WorkerFact, ...] | None = None
    #: the idle limit of the network path to the broker in seconds (host variable
    #: ``remediate_path_idle_timeout``; lint --path-idle-timeout), for X004
    path_idle_timeout: int | None = None
    #: the path has a proxy or load balancer that counts data only, so TCP keepalive probes do
    #: not keep a flow open (host variable ``remediate_path_counts_data``)
    path_counts_data: bool = False
    #: every running redis-server with the file it runs from (RDS010, RDS011); None: not
    #: gathered, or the host manages no redis.conf
    redis_instances: tuple[RedisInstance, ...] | None = None
    #: playbook path patterns that matched no file on the host (PLB001)
    unmatched_paths: tuple[str, ...] = ()


def finding(
    rule: RuleInfo,
    path: str,
    line: int | None,
    message: str,
    fix: str = "",
    column: int | None = None,
    severity: str | None = None,
) -> Finding:
    """A Finding of ``rule``: its id and kind, its default severity unless raised here, and
    its generic fix unless the finding has a more specific one."""
    return Finding(
        rule.id, severity or rule.severity, rule.kind, path, line, message, fix or rule.fix, column
    )


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
