"""Pure parts of ``remediate verify``: the options a canary runs with, the idle window and
budget they call for, and the likely cause of a failure with the rule that names its fix.

``settings`` is what the canary's helper printed with ``describe`` on the host: the values
kombu reads from the app's configuration (passwords already masked there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: the idle window when no limit on the path is known (DOMAIN.md: AWS NLB 350 s)
DEFAULT_IDLE = 400.0
#: how far beyond the largest known idle limit the window reaches
IDLE_MARGIN = 1.25
#: Celery's broker_heartbeat default (seconds) when the file leaves it unset
CELERY_HEARTBEAT_DEFAULT = 120.0
REDIS_DRIVERS = ("redis",)


def is_redis(settings: Mapping[str, Any]) -> bool:
    return str(settings.get("driver", "")) in REDIS_DRIVERS


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def options_in_force(settings: Mapping[str, Any]) -> dict[str, str]:
    """The connection options that decide whether a connection survives an idle path."""
    options = settings.get("transport_options") or {}
    shown: dict[str, str] = {"broker": str(settings.get("url", ""))}
    if is_redis(settings):
        for key in ("socket_timeout", "socket_keepalive", "health_check_interval"):
            shown[key] = "(unset)" if options.get(key) is None else str(options[key])
        keepalive = options.get("socket_keepalive_options")
        shown["socket_keepalive_options"] = str(keepalive) if keepalive else "(unset)"
        if "retry_on_timeout" in options:
            shown["retry_on_timeout"] = str(options["retry_on_timeout"])
    else:
        shown["broker_heartbeat"] = str(settings.get("broker_heartbeat"))
    shown["broker_connection_max_retries"] = str(settings.get("broker_connection_max_retries"))
    return shown


def default_idle(limits: Sequence[float]) -> float:
    """Above the largest known idle limit on the path; 400 s when none is known."""
    known = [x for x in limits if x and x > 0]
    return round(max(known) * IDLE_MARGIN + 1, 1) if known else DEFAULT_IDLE


def default_budget(settings: Mapping[str, Any]) -> float:
    """How long a healthy canary may take to consume after the idle window: a dead connection
    is noticed within the socket timeout (Redis) or two heartbeats (AMQP), then reconnected."""
    options = settings.get("transport_options") or {}
    if is_redis(settings):
        timeout = _number(options.get("socket_timeout"))
        check = _number(options.get("health_check_interval")) or 0.0
        # kombu's BRPOP returns every second; no socket timeout: nothing bounds a dead read
        return 10.0 + 2 * (timeout if timeout else 25.0) + check
    heartbeat = _number(settings.get("broker_heartbeat"))
    if heartbeat is None:
        heartbeat = CELERY_HEARTBEAT_DEFAULT
    return 10.0 + 2 * (heartbeat or 30.0)


def _older(version: str, than: tuple[int, ...]) -> bool:
    parts: list[int] = []
    for word in version.split(".")[:3]:
        digits = "".join(ch for ch in word if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return bool(parts) and tuple(parts) < than


def likely_cause(
    settings: Mapping[str, Any],
    *,
    idle_limit: float | None,
    canary_idle: float | None,
    events: Sequence[Mapping[str, Any]],
    published: bool,
) -> tuple[str, tuple[str, ...]]:
    """One sentence on why the canary did not consume, and the rule ids naming the fixes."""
    options = settings.get("transport_options") or {}
    kombu = str((settings.get("versions") or {}).get("kombu", ""))
    reasons: list[str] = []
    rules: list[str] = []
    if not published:
        reasons.append("the fresh producer could not publish (see the error)")
    lost = [e for e in events if str(e.get("what", "")).startswith("connection lost")]
    if published and not lost:
        reasons.append(
            "the canary never noticed its connection was gone: no reconnect in its log "
            "(a silent wedge)"
        )
    elif lost:
        first = lost[0]
        reasons.append(
            f"the canary reconnected {float(first.get('at', 0)):.1f} s after the publish "
            f"({first.get('what')}), yet the task did not run: the message it had taken "
            "went with the dead connection"
        )
        options_ = settings.get("transport_options") or {}
        if is_redis(settings) and not options_.get("retry_on_timeout"):
            reasons.append(
                "redis-py's health check PINGs only before a command, so an idle command "
                "connection still goes dark behind a path that counts data; with "
                "retry_on_timeout the first command reconnects instead of failing"
            )
    if canary_idle is not None and idle_limit:
        reasons.append(
            f"a canary connection sat idle {canary_idle:g} s on the broker (path idle limit "
            f"{idle_limit:g} s)"
        )
    if is_redis(settings):
        keepalive = options.get("socket_keepalive") and options.get("socket_keepalive_options")
        check = _number(options.get("health_check_interval"))
        if options.get("socket_timeout") is None or not check or not keepalive:
            missing = [
                name
                for name, ok in (
                    ("socket_timeout", options.get("socket_timeout") is not None),
                    ("health_check_interval", bool(check)),
                    ("socket_keepalive(_options)", bool(keepalive)),
                )
                if not ok
            ]
            reasons.append(f"transport options lack {', '.join(missing)}")
            rules.append("CEL005")
        if idle_limit and check and check >= idle_limit:
            reasons.append(
                f"health_check_interval {check:g} s is not below the {idle_limit:g} s limit"
            )
            rules.append("X004")
        if "sentinel" in str(settings.get("transport", "")) and _older(kombu, (5, 7)):
            rules.append("PKG002")
        if _older(kombu, (5, 4)):
            rules.append("PKG004")
        elif _older(kombu, (5, 7)):
            rules.append("PKG001")
    else:
        heartbeat = _number(settings.get("broker_heartbeat"))
        if heartbeat is not None and heartbeat < 5:
            reasons.append(f"broker_heartbeat {heartbeat:g}: heartbeats off or too frequent")
            rules.append("CEL010")
        beat = CELERY_HEARTBEAT_DEFAULT if heartbeat is None else heartbeat
        if idle_limit and beat and beat / 2 >= idle_limit:
            reasons.append(f"heartbeat/2 ({beat / 2:g} s) is not below the {idle_limit:g} s limit")
            rules.append("X004")
    if idle_limit and "X004" not in rules and (canary_idle or 0) >= idle_limit:
        rules.append("X004")
    return "; ".join(reasons), tuple(dict.fromkeys(rules))
