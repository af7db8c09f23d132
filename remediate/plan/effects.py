"""Which settings take effect live and how every other change takes effect, and which names are
secret: the tables the planner, the engine and the views share (pure data)."""

from __future__ import annotations

from remediate.model.secrets import is_secret_setting
from remediate.playbook.schema import FileSpec

#: Redis settings CONFIG SET applies to a running server, and to whom.
REDIS_LIVE = {
    "timeout": "CONFIG SET, no restart (applies to existing clients)",
    "tcp-keepalive": "CONFIG SET, no restart (new connections only)",
    "maxclients": "CONFIG SET, no restart (needs the process's open-file limit)",
    "maxmemory": "CONFIG SET, no restart",
    "maxmemory-policy": "CONFIG SET, no restart",
    "client-output-buffer-limit": "CONFIG SET, no restart",
    "save": "CONFIG SET, no restart",
    "appendonly": "CONFIG SET, no restart",
    "loglevel": "CONFIG SET, no restart",
}

#: Passwords are never changed live: CONFIG SET requirepass locks out every client (and this
#: tool, mid-run) still holding the old one, and the file and the server disagree until both
#: are in place. They take effect when redis-server restarts from the file.
REDIS_RESTART_ONLY = {
    "requirepass": "redis-server restart (never CONFIG SET live: a live password change locks "
    "out every client and this tool until all use the new one)",
    "masterauth": "redis-server restart (never CONFIG SET live: replicas would stop "
    "authenticating to their master mid-run)",
}

#: Settings whose running value is compared with the file even when no template manages them.
DRIFT_CHECKED = {"maxclients", "maxmemory", "maxmemory-policy"}

#: How a change that cannot be applied live takes effect, per kind.
EFFECT_BY_KIND = {
    "redis": ("restart", "redis-server"),
    "rabbitmq": ("restart", "RabbitMQ node"),
    "systemd": ("restart", "daemon-reload and service restart"),
    "celery": ("restart", "Celery workers (settings are read at start-up)"),
    "limits": ("session", "new login sessions only (systemd services ignore limits.conf)"),
    "shell": ("restart", "service, and only under SysV init"),
    "helm-values": ("deploy", "the next helm upgrade of the chart (commit the file)"),
    "compose-file": ("deploy", "the next docker compose up of the service (commit the file)"),
}


def effect_of(spec: FileSpec, setting: str, removed: bool = False) -> tuple[str, str]:
    """How a change to ``setting`` takes effect: live, or through which handler (a removed
    setting is never unset live: its default returns at the next restart)."""
    if spec.kind == "redis" and spec.live and setting.lower() in REDIS_LIVE and not removed:
        return "live", REDIS_LIVE[setting.lower()]
    effect, how = EFFECT_BY_KIND[spec.kind]
    if spec.kind == "redis" and setting.lower() in REDIS_RESTART_ONLY:
        how = REDIS_RESTART_ONLY[setting.lower()]
    if spec.notify:
        how = f"{how}; handler: {', '.join(spec.notify)}"
    elif effect == "restart":
        how = f"{how}; no handler: pending until the next restart"
    return effect, how


__all__ = [
    "DRIFT_CHECKED",
    "EFFECT_BY_KIND",
    "REDIS_LIVE",
    "REDIS_RESTART_ONLY",
    "effect_of",
    "is_secret_setting",
]
