"""Redis rules (RDS001-RDS007) over redis.conf, sentinel.conf and ACL files.

Setting rules (RDS001-RDS004, RDS006) judge server configs only; RDS005 (a line Redis
refuses) and RDS007 (a secret readable by others) apply to every flavor.
"""

from __future__ import annotations

from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.formats.redis_directives import REPEATABLE_DIRECTIVES, SECRET_DIRECTIVES
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding

DEFAULT_MAXCLIENTS = 10000
RESERVED_FDS = 32  # Redis keeps 32 descriptors for itself beside one per client

RDS001 = RuleInfo(
    "RDS001",
    "redis",
    "info",
    "timeout is not 0",
    "timeout closes clients idle for N seconds (BRPOP-blocked and Pub/Sub clients are exempt). "
    "The close is clean and redis-py 3.3+ reconnects transparently, so with a current stack it "
    'is not the cause of "Connection reset by peer" (NAT, load balancers and firewalls that '
    "drop idle flows are); 0 is still the advice for a broker. CONFIG SET applies it to "
    "existing clients.",
    "timeout 0 (live, CONFIG SET)",
)
RDS002 = RuleInfo(
    "RDS002",
    "redis",
    "warning",
    "tcp-keepalive is 0 or above 300",
    "tcp-keepalive (default 300 since 3.2.2) makes Redis send TCP keepalives, so middleboxes "
    "see traffic on idle connections and dead peers are found. 60 is the recommendation. "
    "CONFIG SET affects new connections only.",
    "tcp-keepalive 60 (live, new connections only)",
)
RDS003 = RuleInfo(
    "RDS003",
    "redis",
    "error",
    "maxmemory-policy allkeys-* can evict the task queues",
    "With a memory limit, any allkeys-* policy may evict queue lists and the unacked hash: "
    "tasks are lost without a trace. A broker needs noeviction (an error at the limit). "
    "Without a maxmemory limit the policy is dormant (warning) until one is set.",
    "maxmemory-policy noeviction",
)
RDS004 = RuleInfo(
    "RDS004",
    "redis",
    "warning",
    "maxclients beyond the process's open-file limit",
    "Redis needs maxclients + 32 file descriptors. It raises its own limits as far as it may "
    "and lowers maxclients (with only a log warning) when the hard limit blocks it. The truth "
    'is the running process: its hard "Max open files", and the live CONFIG GET maxclients.',
    "raise LimitNOFILE in the redis-server unit (drop-in) to at least maxclients + 32",
)
RDS005 = RuleInfo(
    "RDS005",
    "redis",
    "error",
    "a line Redis refuses",
    'Redis refuses to start on an unknown directive, an inline comment ("timeout 0 # x" is '
    '"wrong number of arguments"), unbalanced quotes, a quote not followed by a space, or '
    "the same ACL user twice.",
    "fix the line",
)
RDS006 = RuleInfo(
    "RDS006",
    "redis",
    "warning",
    "live value differs from the file",
    "The running server does not run what the file says: a CONFIG SET that was never written "
    "down (lost at the next restart), or a file change that waits for a restart.",
    "apply the file's value live (CONFIG SET), or restart the server",
)
RDS007 = RuleInfo(
    "RDS007",
    "redis",
    "warning",
    "a file holding a secret is readable by others",
    "requirepass, masterauth, ACL user passwords and TLS key passphrases are secrets; a file "
    "readable by every local user leaks them. (CONFIG REWRITE can also leave a 0644 file.)",
    "chmod 0640 (owner redis, group redis) or stricter",
)
RULE_INFOS = (RDS001, RDS002, RDS003, RDS004, RDS005, RDS006, RDS007)


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _column(doc: Any, line: int | None) -> int | None:
    """Column of the directive (its first character) on ``line``."""
    if line is None:
        return None
    text = doc.text(line - 1)
    return len(text) - len(text.lstrip(" \t")) + 1


def _at(
    doc: Any, rule: RuleInfo, key: str, message: str, fix: str = "", severity: str | None = None
) -> Finding:
    line = doc.line_of(key)
    return finding(rule, doc.path, line, message, fix, _column(doc, line), severity)


def timeout_not_zero(doc: Any) -> list[Finding]:
    timeout = _int(doc.settings_value("timeout"))
    if not timeout:
        return []
    return [
        _at(
            doc,
            RDS001,
            "timeout",
            f"timeout {timeout}: Redis closes clients idle for {timeout} s (cleanly; redis-py "
            "reconnects, so it is not the cause of connection resets)",
        )
    ]


def keepalive_off_or_slow(doc: Any) -> list[Finding]:
    keepalive = _int(doc.settings_value("tcp-keepalive"))
    if keepalive is None or 0 < keepalive <= 300:
        return []
    what = (
        ("no TCP keepalives: idle middleboxes drop the flow unseen and dead peers are never found")
        if keepalive == 0
        else (f"keepalives only every {keepalive} s: idle middleboxes may drop the flow first")
    )
    return [_at(doc, RDS002, "tcp-keepalive", f"tcp-keepalive {keepalive}: {what}")]


def evicting_policy(doc: Any) -> list[Finding]:
    policy = doc.settings_value("maxmemory-policy")
    if policy is ABSENT or not str(policy).lower().startswith("allkeys-"):
        return []
    limit = doc.settings_value("maxmemory")
    limited = limit is not ABSENT and not doc.same("maxmemory", limit, "0")
    if limited:
        message = (
            f"maxmemory-policy {policy} with maxmemory {limit}: at the limit Redis evicts "
            "any key, task queues and unacked messages included"
        )
    else:
        message = (
            f"maxmemory-policy {policy}: dormant without maxmemory, but once a limit is "
            "set Redis evicts any key, task queues included"
        )
    return [_at(doc, RDS003, "maxmemory-policy", message, severity=None if limited else "warning")]


def _file_maxclients(doc: Any) -> tuple[int, bool]:
    """(maxclients the file asks for, whether the file sets it)."""
    value = _int(doc.settings_value("maxclients"))
    return (DEFAULT_MAXCLIENTS, False) if value is None else (value, True)


def maxclients_beyond_limit(doc: Any, facts: Facts) -> list[Finding]:
    maxclients, written = _file_maxclients(doc)
    origin = "maxclients" if written else "maxclients (default)"
    needed = maxclients + RESERVED_FDS
    reasons = []
    hard = facts.redis_nofile_hard
    if hard is not None and needed > hard:
        reasons.append(
            f"{origin} {maxclients} needs {needed} file descriptors but the running "
            f"redis-server's hard limit is {hard}, so Redis lowers maxclients to "
            f"{max(hard - RESERVED_FDS, 1)}"
        )
    live = _int((facts.redis_live or {}).get("maxclients", ""))
    if live is not None and live < maxclients:
        reasons.append(
            f"live maxclients is {live}, below the file's {maxclients}: Redis lowered "
            "it because its open-file limit is too low"
        )
    if not reasons:
        return []
    return [
        _at(
            doc,
            RDS004,
            "maxclients",
            "; ".join(reasons),
            f"raise LimitNOFILE to at least {needed} (a systemd drop-in for redis-server), "
            "then restart (or prlimit the process and CONFIG SET maxclients)",
        )
    ]


def refused_lines(doc: Any) -> list[Finding]:
    return [
        finding(
            RDS005,
            doc.path,
            problem.line,
            f"Redis refuses this line: {problem.reason}",
            column=problem.column,
        )
        for problem in doc.problems
    ]


def live_differs(doc: Any, facts: Facts) -> list[Finding]:
    findings = []
    maxclients, _ = _file_maxclients(doc)
    for key, live in sorted((facts.redis_live or {}).items()):
        name = key.lower()
        if name in REPEATABLE_DIRECTIVES and name != "save":
            continue
        written = doc.settings_value(name)
        if written is ABSENT or doc.same(name, written, live):
            continue
        if name == "maxclients" and (_int(live) or 0) < maxclients:
            continue  # RDS004 says why
        if name in SECRET_DIRECTIVES:
            message = f"{name}: the running server's value differs from the file's"
        else:
            shown = (
                written
                if isinstance(written, str)
                else " ".join(" ".join(args) for args in written)
            )
            message = f"{name}: the file says {shown}, the running server {live}"
        findings.append(
            _at(
                doc,
                RDS006,
                name,
                message + " (restart pending, or a CONFIG SET never written down)",
            )
        )
    return findings


def _first_secret_line(doc: Any) -> int | None:
    lines = [doc.line_of(name) for name in SECRET_DIRECTIVES]
    settings = doc.settings()
    for name in ("user", "sentinel"):
        if name in settings:
            lines.append(doc.line_of(name))
    found = [line for line in lines if line]
    return min(found) if found else None


def secret_readable(doc: Any, facts: Facts) -> list[Finding]:
    if not facts.file_mode:
        return []
    try:
        mode = int(facts.file_mode, 8)
    except ValueError:
        return []
    if not mode & 0o004 or not doc.secrets():
        return []
    line = _first_secret_line(doc)
    return [
        finding(
            RDS007,
            doc.path,
            line,
            f"mode {facts.file_mode}: every local user can read the secrets in this file",
            column=_column(doc, line),
        )
    ]


def check_redis(doc: Document, facts: Facts) -> list[Finding]:
    findings = refused_lines(doc) + secret_readable(doc, facts)
    if getattr(doc, "flavor", "server") != "server":
        return findings
    return [
        *findings,
        *timeout_not_zero(doc),
        *keepalive_off_or_slow(doc),
        *evicting_policy(doc),
        *maxclients_beyond_limit(doc, facts),
        *live_differs(doc, facts),
    ]
