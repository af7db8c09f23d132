"""Redis rules about who can reach the broker and whether it can still take tasks (RDS008,
RDS009), over redis.conf (server flavor) and, for RDS009, the running server.

RDS008, as Redis decides it (``src/networking.c``, ``clientAcceptHandler``): protected mode
refuses non-loopback clients while the default user has no password. Up to 6.2 that holds
only when no ``bind`` is given (``server.bindaddr_count == 0``); from 7.0 whatever ``bind``
says. So a server without a password is reachable from the network with ``protected-mode no``
and a non-loopback (or no) ``bind`` on any version, or with a non-loopback ``bind`` on Redis
6.2 and older. No ``bind`` line listens on every interface. A password is ``requirepass`` or a
``user default`` line with a ``>password`` or ``#hash`` (and without ``nopass``); ``user default
off`` disables the unauthenticated user; with ``aclfile`` the users are elsewhere and the rule
stays silent. ``port 0`` (no TCP listener) is never reachable.
"""

from __future__ import annotations

import re
from typing import Any

from remediate.formats.base import ABSENT, Document
from remediate.formats.redis_args import parse_memory
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding, first_column, line_text

FULL_SHARE = 0.9  # RDS009: used_memory at or above this share of maxmemory
_LOOPBACK = re.compile(r"^-?(127\.\d+\.\d+\.\d+|::1|localhost)$", re.IGNORECASE)

RDS008 = RuleInfo(
    "RDS008",
    "redis",
    "error",
    "reachable from the network without a password",
    "Anyone who reaches a Redis broker without a password can read and delete the task queues, "
    "or run FLUSHALL and CONFIG. Protected mode refuses non-loopback clients while the default "
    "user has no password, but only when it is on, and on Redis 6.2 and older only when no "
    "bind is given; from 7.0 it applies whatever bind says. protected-mode no with a "
    "non-loopback bind, or a non-loopback bind on Redis <= 6.2, leaves the broker open.",
    "set requirepass (or an ACL password for the default user) and bind to private addresses",
)
RDS009 = RuleInfo(
    "RDS009",
    "redis",
    "warning",
    "used memory near maxmemory with noeviction",
    "With maxmemory-policy noeviction (the right policy for a broker) Redis refuses writes "
    "once used_memory reaches maxmemory: every publish fails with OOM and workers cannot ack. "
    "At 90 % the queues are one burst away from it.",
    "raise maxmemory (CONFIG SET and the file), drain or purge the queues, find the backlog",
)
RULE_INFOS = (RDS008, RDS009)


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """``"6.2.14"`` -> (6, 2, 14); None when it cannot be read."""
    if not version:
        return None
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts[:3]) if parts else None


def _has_password(doc: Any) -> bool | None:
    """Whether unauthenticated clients are refused; None when the file cannot tell."""
    if doc.settings_value("aclfile") is not ABSENT:
        return None
    password = doc.settings_value("requirepass")
    protected = password is not ABSENT and str(password) != ""
    for args in doc.settings().get("user", []):
        if not args or args[0] != "default":
            continue
        rules = [arg.lower() for arg in args[1:]]
        switches = [rule for rule in rules if rule in ("on", "off")]
        if switches and switches[-1] == "off":
            return True  # the default user is disabled: nobody gets in unauthenticated
        if "nopass" in rules or "resetpass" in rules:
            protected = False
        elif any(arg.startswith((">", "#")) for arg in args[1:]):
            protected = True
    return protected


def _open_addresses(doc: Any) -> list[str] | None:
    """The non-loopback addresses Redis listens on; None when it listens on loopback only."""
    bind = doc.settings_value("bind")
    if bind is ABSENT:
        return ["*"]
    addresses = str(bind).split()
    outside = [a.lstrip("-") for a in addresses if not _LOOPBACK.match(a)]
    return outside or None


def _column(doc: Any, line: int | None) -> int | None:
    return first_column(line_text(doc, line)) if line else None


def reachable_without_password(doc: Any, facts: Facts) -> list[Finding]:
    if _has_password(doc) is not False or doc.settings_value("port") in ("0",):
        return []
    outside = _open_addresses(doc)
    if outside is None:
        return []
    protected_mode = str(doc.settings_value("protected-mode") or "yes").lower() != "no"
    version = version_tuple(facts.redis_version)
    old = version is not None and version[:2] <= (6, 2)
    bound = doc.settings_value("bind") is not ABSENT
    where = (
        "every interface (no bind)"
        if not bound
        else f"{', '.join(outside)} (bind {doc.settings_value('bind')})"
    )
    if not protected_mode:
        line = doc.line_of("protected-mode")
        message = f"no password and protected-mode no: Redis accepts anyone who reaches {where}"
    elif old and bound:
        line = doc.line_of("bind")
        message = (
            f"no password on Redis {facts.redis_version}, which disables protected mode "
            f"when bind is given: anyone who reaches {where} gets in"
        )
    else:
        return []
    return [finding(RDS008, doc.path, line, message, column=_column(doc, line))]


def _bytes(value: Any) -> int | None:
    if value is ABSENT or value is None:
        return None
    return parse_memory(str(value).strip())


def memory_nearly_full(doc: Any, facts: Facts) -> list[Finding]:
    used = facts.redis_used_memory
    if used is None:
        return []
    live = facts.redis_live or {}
    limit = _bytes(live.get("maxmemory", doc.settings_value("maxmemory")))
    policy = str(
        live.get("maxmemory-policy", doc.settings_value("maxmemory-policy") or "noeviction")
    ).lower()
    if not limit or policy != "noeviction" or used < FULL_SHARE * limit:
        return []
    line = doc.line_of("maxmemory")
    share = 100 * used / limit
    return [
        finding(
            RDS009,
            doc.path,
            line,
            f"the running server uses {used} of {limit} bytes of maxmemory "
            f"({share:.0f} %) with noeviction: at the limit every publish fails with OOM",
            column=_column(doc, line),
        )
    ]


def check_redis_access(doc: Document, facts: Facts) -> list[Finding]:
    if getattr(doc, "flavor", "server") != "server":
        return []
    return reachable_without_password(doc, facts) + memory_nearly_full(doc, facts)
