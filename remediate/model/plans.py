"""Frozen value objects shared by plan, apply and the reports. Plans are data: they
serialise to JSON (``to_json``) and load back (``from_json``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

SCHEMA = 1


@dataclass(frozen=True)
class SettingChange:
    """One setting of one file, as a person reads it: ``timeout: 300 → 0``."""

    setting: str
    old: str  # display value, secrets masked; "(unset)" when absent
    new: str
    effect: str  # "live" | "restart" | "reload" | "session" | "deploy"
    how: str  # "CONFIG SET, no restart" / "handler: restart redis" ...
    lines: tuple[int, int] | None = None
    note: str = ""
    secret: bool = False


@dataclass(frozen=True)
class RuntimeChange:
    """A live value to set on a running server (Redis CONFIG SET)."""

    service: str
    setting: str
    live: str
    desired: str
    source: str = ""  # the managed file whose running instance this is


@dataclass(frozen=True)
class FilePlan:
    path: str  # as the host sees it (remediate_root applied)
    kind: str
    strategy: str
    template: str
    exists: bool
    sha256_before: str  # "" when absent
    sha256_after: str
    mode: str  # the file's mode, or the mode it will be created with
    owner: str
    group: str
    changes: tuple[SettingChange, ...] = ()
    handlers: tuple[str, ...] = ()  # notified because something cannot be applied live
    diff: str = ""  # unified diff, secrets masked
    validate: str | None = None
    #: what each notified handler runs, exactly ("name: command; check: check"): a saved
    #: plan is refused when the playbook would now run something else
    handler_commands: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.sha256_before != self.sha256_after


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # info | warning | error
    kind: str
    path: str
    line: int | None
    message: str
    fix: str = ""
    column: int | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class HostPlan:
    host: str
    address: str
    files: tuple[FilePlan, ...] = ()
    runtime_changes: tuple[RuntimeChange, ...] = ()
    drift: tuple[RuntimeChange, ...] = ()  # file says X, the running server says Y
    facts: dict[str, Any] = field(default_factory=dict)  # runtime facts for display / JSON
    findings: tuple[Finding, ...] = ()
    unreachable: str = ""
    failed: str = ""

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.files) or bool(self.runtime_changes)

    @property
    def live_states(self) -> dict[str, str]:
        """Per component (redis, rabbitmq): ``read``, ``not running`` or ``unknown: <reason>``."""
        states = {
            name: str(self.facts[name]["state"])
            for name in ("redis", "rabbitmq")
            if isinstance(self.facts.get(name), dict) and "state" in self.facts[name]
        }
        instances = self.facts.get("redis", {}).get("instances", {}) if "redis" in states else {}
        unknown = [
            f"{i['state']} ({path})"
            for path, i in sorted(instances.items())
            if str(i.get("state", "")).startswith("unknown")
        ]
        if unknown and not states["redis"].startswith("unknown"):
            states["redis"] = unknown[0]
        return states

    @property
    def unknown(self) -> dict[str, str]:
        """The components whose live state is unknown, with the reason (counted as failed)."""
        return {
            name: state for name, state in self.live_states.items() if state.startswith("unknown")
        }


def to_json(value: Any) -> Any:
    """A dataclass tree as plain JSON-ready data.

    One walk over the fields (not ``asdict`` and a second walk over its copy: ``asdict``
    deep-copies every value, which made a fleet's audit report cost more than its survey)."""
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def _fields(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Only the constructor fields of ``cls`` (reports add derived keys such as "status")."""
    return {k: v for k, v in data.items() if k in cls.__dataclass_fields__}


def host_plan_from_json(data: dict[str, Any]) -> HostPlan:
    files = tuple(
        FilePlan(
            **{
                **_fields(FilePlan, f),
                "changes": tuple(
                    SettingChange(**{**c, "lines": tuple(c["lines"]) if c["lines"] else None})
                    for c in f["changes"]
                ),
                "handlers": tuple(f["handlers"]),
                "handler_commands": tuple(f.get("handler_commands", ())),
            }
        )
        for f in data["files"]
    )
    return HostPlan(
        host=data["host"],
        address=data["address"],
        files=files,
        runtime_changes=tuple(RuntimeChange(**r) for r in data["runtime_changes"]),
        drift=tuple(RuntimeChange(**r) for r in data["drift"]),
        facts=data.get("facts", {}),
        findings=tuple(Finding(**f) for f in data.get("findings", [])),
        unreachable=data.get("unreachable", ""),
        failed=data.get("failed", ""),
    )
