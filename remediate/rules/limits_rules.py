"""File-descriptor limits and the files that (do not) set them: limits.conf (LIM001, LIM002),
systemd units and drop-ins (SYS001, RMQ007) and /etc/default shell files (RMQ003, SHL001).

Who reads what: pam_limits applies limits.conf to login sessions only; a systemd service gets
its unit's LimitNOFILE (or DefaultLimitNOFILE, 1024:524288); ``ulimit -n`` in
/etc/default/rabbitmq-server is read only by the SysV init script.
"""

from __future__ import annotations

import posixpath
from typing import Any

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding, first_column, line_text

RABBITMQ_NOFILE = 65536

LIM001 = RuleInfo(
    "LIM001",
    "limits",
    "info",
    "nofile in limits.conf does not reach systemd services",
    "pam_limits applies limits.conf and limits.d/*.conf to login sessions only: services "
    "started by systemd (redis-server, rabbitmq-server, celery workers) ignore them. A "
    "service's limit is its unit's LimitNOFILE, or systemd's DefaultLimitNOFILE (1024:524288).",
    "set LimitNOFILE in the service's unit (a drop-in such as "
    "/etc/systemd/system/<service>.service.d/limits.conf)",
)
LIM002 = RuleInfo(
    "LIM002",
    "limits",
    "warning",
    "a limits row pam_limits skips",
    "pam_limits logs a row it cannot read (wrong number of fields, unknown item or type, a bad "
    "value or uid range) and carries on without it: the limit is silently not set.",
    "write the row as <domain> <type> <item> <value>",
)
SYS001 = RuleInfo(
    "SYS001",
    "systemd",
    "warning",
    "a unit line systemd ignores",
    "systemd ignores, with only a log warning, an assignment outside any section, a line "
    "without '=', a missing key or a key that cannot be a systemd key: the setting is not "
    "applied.",
    "fix the line (Key=Value inside its [Section])",
)
RMQ007 = RuleInfo(
    "RMQ007",
    "systemd",
    "warning",
    "LimitNOFILE below 65536 for rabbitmq-server",
    "RabbitMQ needs a descriptor per connection and queue file; the systemd way to raise the "
    "limit is LimitNOFILE in the unit or a drop-in (Debian 12's unit sets 65536). A lower value "
    "in the unit or a drop-in caps the running beam.smp.",
    "LimitNOFILE=65536 in /etc/systemd/system/rabbitmq-server.service.d/limits.conf, "
    "daemon-reload and restart",
)
RMQ003 = RuleInfo(
    "RMQ003",
    "shell",
    "warning",
    "ulimit -n in /etc/default/rabbitmq-server is ignored",
    "/etc/default/rabbitmq-server is read only by the SysV init script: under systemd its "
    "ulimit -n does nothing. The running beam.smp's limit comes from the unit's LimitNOFILE.",
    "remove it and set LimitNOFILE=65536 in a systemd drop-in "
    "(/etc/systemd/system/rabbitmq-server.service.d/limits.conf)",
)
SHL001 = RuleInfo(
    "SHL001",
    "shell",
    "error",
    "a line the sourcing shell stops at or misreads",
    "The file is shell sourced by an init script: after a syntax error the shell runs nothing "
    "more, and with CRLF line ends every value ends in a carriage return (ulimit rejects it).",
    "fix the line (LF line ends, close every block)",
)
RMQ010 = RuleInfo(
    "RMQ010",
    "shell",
    "warning",
    "ulimit -n in rabbitmq-env.conf caps the node's open files",
    "rabbitmq-env.conf is sourced by RabbitMQ's own start script (rabbitmq-server sources "
    "rabbitmq-env, which sources the file, then execs the Erlang VM) under every init system, "
    "systemd included: a ulimit -n there lowers the limit the unit's LimitNOFILE gave the node, "
    "and RabbitMQ needs at least 65536 descriptors.",
    "remove the ulimit line and set LimitNOFILE=65536 in a systemd drop-in "
    "(/etc/systemd/system/rabbitmq-server.service.d/limits.conf)",
)
RULE_INFOS = (LIM001, LIM002, SYS001, RMQ007, RMQ003, RMQ010, SHL001)


def _problems(rule: RuleInfo, doc: Any) -> list[Finding]:
    return [
        finding(rule, doc.path, problem.line, problem.reason, column=problem.column)
        for problem in doc.problems
    ]


# ---------------------------------------------------------------- limits.conf


def nofile_for_logins_only(doc: Any) -> list[Finding]:
    """One LIM001 per domain, on its first nofile row."""
    rows: dict[str, list[Any]] = {}
    for row in doc.rows:
        if row.item == "nofile":
            rows.setdefault(row.domain, []).append(row)
    findings = []
    for domain, found in rows.items():
        soft, hard = doc.effective(domain, "nofile")
        values = f"{soft}" if soft == hard else f"soft {soft or 'unset'}, hard {hard or 'unset'}"
        first = found[0]
        findings.append(
            finding(
                LIM001,
                doc.path,
                first.line,
                f"nofile {values} for {domain} reaches login sessions only: systemd services "
                "ignore limits.conf",
                column=first_column(line_text(doc, first.line)),
            )
        )
    return findings


def check_limits(doc: Document, facts: Facts) -> list[Finding]:
    return _problems(LIM002, doc) + nofile_for_logins_only(doc)


# ---------------------------------------------------------------- systemd


def hard_limit(value: str) -> int | None:
    """The hard limit of ``LimitNOFILE=N`` / ``soft:hard``; None for infinity or unreadable."""
    hard = value.strip().rpartition(":")[2].strip()
    return int(hard) if hard.isdigit() else None


def mentions(path: str, service: str) -> bool:
    return service in path.lower()


def rabbitmq_unit_limit(doc: Any) -> list[Finding]:
    if not mentions(doc.path, "rabbitmq"):
        return []
    value = doc.settings().get("Service.LimitNOFILE")
    if not value:
        return []
    hard = hard_limit(value)
    soft = value.partition(":")[0].strip()
    lowest = min(filter(None, (hard, int(soft) if soft.isdigit() else None)), default=None)
    if lowest is None or lowest >= RABBITMQ_NOFILE:
        return []
    line = doc.line_of("Service.LimitNOFILE")
    return [
        finding(
            RMQ007,
            doc.path,
            line,
            f"LimitNOFILE={value}: the running beam.smp gets at most {lowest} file "
            f"descriptors, below the {RABBITMQ_NOFILE} RabbitMQ needs",
            column=value_column(doc, line),
        )
    ]


def value_column(doc: Any, line: int | None) -> int | None:
    """1-based column of the value of the assignment on ``line`` of a systemd document."""
    if line is None:
        return None
    found = [a for a in doc.assignments if a.first + 1 == line]
    if not found:
        return None
    return found[-1].value_start + 1 if found[-1].value_start >= 0 else None


def check_systemd(doc: Document, facts: Facts) -> list[Finding]:
    return _problems(SYS001, doc) + rabbitmq_unit_limit(doc)


# ---------------------------------------------------------------- /etc/default shell files


def is_rabbitmq_default(path: str) -> bool:
    """/etc/default/rabbitmq-server (or a copy or template of it, by name)."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    return "rabbitmq-server" in name and "env" not in name


def ulimit_ignored_under_systemd(doc: Any) -> list[Finding]:
    if not is_rabbitmq_default(doc.path) or not doc.ulimits:
        return []
    findings = []
    for ulimit in doc.ulimits:
        findings.append(
            finding(
                RMQ003,
                doc.path,
                ulimit.line,
                f"ulimit sets the open-file limit to {ulimit.value} in the SysV init script's "
                "environment only: under systemd rabbitmq-server never reads it",
                column=_column_of(line_text(doc, ulimit.line), "ulimit"),
            )
        )
    return findings


def is_rabbitmq_env(path: str) -> bool:
    """/etc/rabbitmq/rabbitmq-env.conf (or a copy or template of it, by name)."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    return "rabbitmq-env" in name


def ulimit_caps_the_node(doc: Any) -> list[Finding]:
    if not is_rabbitmq_env(doc.path):
        return []
    findings = []
    for ulimit in doc.ulimits:
        value = str(ulimit.value)
        if value == "unlimited" or (value.isdigit() and int(value) >= RABBITMQ_NOFILE):
            continue
        which = {"soft": "soft limit", "hard": "hard limit"}.get(ulimit.flavour, "limit")
        findings.append(
            finding(
                RMQ010,
                doc.path,
                ulimit.line,
                f"ulimit sets the node's open-file {which} to {value}: RabbitMQ's start script "
                f"sources this file under every init system, so the node gets {value}, not the "
                f"unit's LimitNOFILE (it needs {RABBITMQ_NOFILE})",
                column=_column_of(line_text(doc, ulimit.line), "ulimit"),
            )
        )
    return findings


def _column_of(text: str, word: str) -> int | None:
    at = text.find(word)
    return at + 1 if at >= 0 else None


def check_shell(doc: Document, facts: Facts) -> list[Finding]:
    return _problems(SHL001, doc) + ulimit_ignored_under_systemd(doc) + ulimit_caps_the_node(doc)
