"""Reports of a fleet plan: text for people, versioned JSON for machines, and the exit code."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remediate import __version__
from remediate.model.plans import SCHEMA, HostPlan, host_plan_from_json, to_json
from remediate.report.exit import ExitCode, combined, exit_code
from remediate.report.words import plural


@dataclass(frozen=True)
class Recap:
    hosts: int
    changed: int
    ok: int
    unreachable: int
    failed: int
    findings: int
    unknown: int = 0  # hosts where a live state could not be read (counted as failed)

    @staticmethod
    def of(plans: Sequence[HostPlan]) -> Recap:
        return Recap(
            len(plans),
            sum(p.status == "changed" for p in plans),
            sum(p.status == "ok" for p in plans),
            sum(p.status == "unreachable" for p in plans),
            sum(p.status == "failed" for p in plans),
            sum(len([f for f in p.findings if not f.suppressed]) for p in plans),
            sum(bool(p.unknown) and p.status in ("changed", "ok") for p in plans),
        )


def plan_exit_code(plans: Sequence[HostPlan], detailed: bool) -> ExitCode:
    recap = Recap.of(plans)
    return exit_code(
        failed=recap.failed + (recap.unknown if detailed else 0),
        unreachable=recap.unreachable,
        drift=detailed and bool(recap.changed),
    )


def audit_exit_code(plans: Sequence[HostPlan]) -> ExitCode:
    """As ``plan --detailed-exitcode``, and unsuppressed warnings or errors are drift too."""
    recap = Recap.of(plans)
    findings = any(
        f.severity in ("warning", "error") and not f.suppressed for p in plans for f in p.findings
    )
    return exit_code(
        failed=recap.failed + recap.unknown,
        unreachable=recap.unreachable,
        drift=bool(recap.changed) or findings,
    )


def plan_json(
    plans: Sequence[HostPlan],
    kind: str = "plan",
    exit_code: int | None = None,
    extra: dict[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The versioned, stable JSON document (``"schema": 1``); a shard's report (``--shard K/N``)
    says which it is, ``"shard": {"index": K, "count": N}``, so a merge can tell one is missing."""
    hosts = []
    for plan in sorted(plans, key=lambda p: p.host):  # by name: shards merge into the same document
        data = to_json(plan)
        data["status"] = plan.status
        for file_data, file_plan in zip(data["files"], plan.files):
            file_data["changed"] = file_plan.changed
        hosts.append(data)
    recap = Recap.of(plans)
    doc = {
        "schema": SCHEMA,
        "kind": kind,
        "tool": f"remediate {__version__}",
        "hosts": hosts,
        "recap": to_json(recap),
        "exit_code": plan_exit_code(plans, detailed=True) if exit_code is None else exit_code,
    }
    if shard is not None:
        doc["shard"] = {"index": shard[0], "count": shard[1]}
    doc.update(extra or {})
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plans_from_json(doc: dict[str, Any]) -> list[HostPlan]:
    if doc.get("schema") != SCHEMA:
        raise ValueError(
            f"unsupported report schema {doc.get('schema')!r} (this tool reads {SCHEMA})"
        )
    return [host_plan_from_json(h) for h in doc["hosts"]]


# -- text --------------------------------------------------------------------------------


def plan_text(
    plans: Sequence[HostPlan],
    summary: bool = False,
    recap: bool = True,
    findings_title: str = "findings",
) -> list[tuple[str, str]]:
    """Lines of the text report as (style, text): the CLI colours them or not; with ``recap``
    they end with the per-host recap and the totals line (``Plan: ...``)."""
    out: list[tuple[str, str]] = []
    for plan in plans:
        head = f"{plan.host}  {plan.address}"
        if plan.unreachable:
            out.append(("bold red", f"{head}  UNREACHABLE: {plan.unreachable}"))
            continue
        if plan.failed:
            out.append(("bold red", f"{head}  FAILED: {plan.failed}"))
            continue
        out.append(("bold", head))
        for f in plan.files:
            if not f.changed:
                continue
            created = "" if f.exists else f", create mode {f.mode}"
            hows = {(c.effect, c.how) for c in f.changes}
            shared = f"  takes effect: {_effect(*next(iter(hows)))}" if len(hows) == 1 else ""
            out.append(("cyan", f"  {f.path}  ({f.kind}, {f.strategy}{created}){shared}"))
            width = max((len(c.setting) for c in f.changes), default=0)
            values = max(
                (len(c.old) + len(c.new) for c in f.changes if len(c.old) + len(c.new) < 40),
                default=0,
            )
            for c in f.changes:
                pair = f"{c.old} → {c.new}"
                effect = "" if shared else f"    {_effect(c.effect, c.how)}"
                out.append(
                    ("", f"    {c.setting.ljust(width)}  {pair.ljust(values + 3)}{effect}".rstrip())
                )
                if c.note:
                    out.append(("yellow", f"      note: {c.note}"))
            if not summary:
                out.extend(_diff_lines(f.diff))
        for component, state in plan.unknown.items():
            out.append(("bold red", f"  {component}: live state {state}"))
        for path, names in plan.facts.get("redis", {}).get("pending", {}).items():
            out.append(
                (
                    "yellow",
                    (
                        f"  runtime (Redis CONFIG SET) for {path}: pending, live values unknown: "
                        f"{', '.join(names)}"
                    ),
                )
            )
        if plan.runtime_changes:
            out.append(("cyan", "  runtime (Redis CONFIG SET)"))
            for r in plan.runtime_changes:
                out.append(("", f"    {r.setting}  live {r.live} → {r.desired}"))
        if plan.drift:
            out.append(("yellow", "  drift: the running server differs from its file"))
            for r in plan.drift:
                out.append(("yellow", f"    {r.setting}  file {r.desired}, live {r.live}"))
        findings = [f for f in plan.findings if not f.suppressed]
        if findings:
            out.append(("cyan", f"  {findings_title}"))
            for finding in findings:
                where = f"{finding.path}:{finding.line}" if finding.line else finding.path
                out.append(
                    (
                        _SEVERITY_STYLE.get(finding.severity, ""),
                        f"    {finding.rule} {finding.severity:<7} {where}  {finding.message}",
                    )
                )
        if not plan.changed and not findings and not plan.drift and not plan.unknown:
            out.append(("green", "  no changes"))
    if recap:
        out.append(("", ""))
        out.extend(recap_lines(plans))
        out.append(("bold", plan_totals(plans)))
    return out


@dataclass(frozen=True)
class Totals:
    """What a plan would do, or an apply did, over the fleet (Terraform's last line)."""

    changed: int = 0  # existing files edited
    created: int = 0  # files that did not exist
    live: int = 0  # live settings (Redis CONFIG SET)
    restarts: int = 0  # handlers (notified per host, once each)

    @staticmethod
    def of(plans: Sequence[HostPlan]) -> Totals:
        ok = [p for p in plans if p.status == "changed"]
        return Totals(
            sum(f.changed and f.exists for p in ok for f in p.files),
            sum(f.changed and not f.exists for p in ok for f in p.files),
            sum(len(p.runtime_changes) for p in ok),
            sum(len({h for f in p.files if f.changed for h in f.handlers}) for p in ok),
        )


def plan_totals(plans: Sequence[HostPlan]) -> str:
    """``Plan: 3 files to change, 1 to create, 2 live settings, 1 restart``."""
    t = Totals.of(plans)
    return (
        f"Plan: {plural(t.changed, 'file')} to change, {t.created} to create, "
        f"{plural(t.live, 'live setting')}, {plural(t.restarts, 'restart')}"
    )


def _effect(effect: str, how: str) -> str:
    return how if effect == "live" and how.startswith("CONFIG SET") else f"{effect}: {how}"


_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    lines = []
    for line in diff.splitlines():
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else "magenta"
            if line.startswith("@@")
            else "dim"
        )
        lines.append((style, "    " + line))
    return lines


def recap_lines(plans: Sequence[HostPlan]) -> list[tuple[str, str]]:
    """Ansible-like recap: one line per host, then the fleet total."""
    out = []
    width = max((len(p.host) for p in plans), default=0)
    for p in plans:
        changed = sum(f.changed for f in p.files) + len(p.runtime_changes)
        ok = sum(not f.changed for f in p.files)
        findings = len([f for f in p.findings if not f.suppressed])
        style = {"changed": "yellow", "ok": "green"}.get(p.status, "red")
        unknown = int(bool(p.unknown) and p.status in ("changed", "ok"))
        style = "red" if unknown else style
        out.append(
            (
                style,
                (
                    f"{p.host.ljust(width)} : ok={ok} changed={changed} "
                    f"unreachable={int(p.status == 'unreachable')} failed={int(p.status == 'failed')} "
                    f"findings={findings}{f' unknown={unknown}' if unknown else ''}"
                ),
            )
        )
    recap = Recap.of(plans)
    parts = [f"{plural(recap.hosts, 'host')}: {recap.changed} with changes"]
    if recap.unreachable:
        parts.append(f"{recap.unreachable} unreachable")
    if recap.failed:
        parts.append(f"{recap.failed} failed")
    if recap.unknown:
        parts.append(f"{recap.unknown} with a live state unknown")
    out.append(("bold", ", ".join(parts)))
    return out


def merge_reports(
    docs: Sequence[dict[str, Any]], names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Join the JSON reports of shards (``--shard K/N``) into the one a single run would give.

    Sharded reports must be the complete set 1/N..N/N, each once (``names``: where each
    document came from, for the messages); a missing shard would merge into a report of a
    smaller fleet that looks clean. Reports without a shard merge as they are.
    """
    if not docs:
        raise ValueError("nothing to merge: no reports given")
    names = list(names) if names is not None else [f"report {i + 1}" for i in range(len(docs))]
    for doc, name in zip(docs, names):
        if not isinstance(doc, dict):
            raise TypeError(
                f"{name}: not a report (a JSON {type(doc).__name__}, "
                "expected the object `plan --format json` or `audit --report` writes)"
            )
        missing = [key for key in ("schema", "kind", "hosts", "exit_code") if key not in doc]
        if missing:
            raise ValueError(
                f"{name}: not a report of `plan --format json` or `audit --report` "
                f"(no {', '.join(missing)})"
            )
    kinds = {d.get("kind") for d in docs}
    if len(kinds) != 1 or any(d.get("schema") != SCHEMA for d in docs):
        raise ValueError(
            f"can only merge reports of one kind and schema {SCHEMA} (got {sorted(map(str, kinds))})"
        )
    check_shards([shard_of_report(d) for d in docs], names)
    seen: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for host in doc["hosts"]:
            if host["host"] in seen:
                raise ValueError(
                    f"host {host['host']} is in more than one report (overlapping shards?)"
                )
            seen[host["host"]] = host
    plans = plans_from_json({"schema": SCHEMA, "hosts": list(seen.values())})
    code = combined(d["exit_code"] for d in docs)
    merged = plan_json(plans, kind=str(docs[0]["kind"]), exit_code=code)
    if "inputs" in docs[0]:
        merged["inputs"] = {**docs[0]["inputs"], "shard": None}
    times = [d["timestamp"] for d in docs if d.get("timestamp")]
    if times:  # as fresh as the oldest shard; none at all: no timestamp (never 0)
        merged["timestamp"] = min(times)
    durations = [d["duration_seconds"] for d in docs if "duration_seconds" in d]
    if durations:  # shards run side by side: the slowest one
        merged["duration_seconds"] = max(durations)
    return merged


def shard_of_report(doc: dict[str, Any]) -> tuple[int, int] | None:
    """(K, N) of a shard's report: its ``shard``, or the ``inputs.shard`` "K/N" older ones have."""
    shard = doc.get("shard")
    if isinstance(shard, dict):
        return int(shard["index"]), int(shard["count"])
    text = (doc.get("inputs") or {}).get("shard")
    if isinstance(text, str) and "/" in text:
        index, count = text.split("/", 1)
        return int(index), int(count)
    return None


def check_shards(shards: Sequence[tuple[int, int] | None], names: Sequence[str]) -> None:
    """Raise ValueError unless the reports are all unsharded, or exactly shards 1/N..N/N."""
    sharded = [(shard, name) for shard, name in zip(shards, names) if shard is not None]
    if not sharded:
        return
    if len(sharded) != len(shards):
        unsharded = [name for shard, name in zip(shards, names) if shard is None]
        raise ValueError(f"cannot merge shard reports with unsharded ones ({', '.join(unsharded)})")
    counts = sorted({count for (_, count), _ in sharded})
    if len(counts) != 1:
        raise ValueError(
            "shard reports of different splits: "
            + ", ".join(f"{name} is {k}/{n}" for (k, n), name in sharded)
        )
    count = counts[0]
    seen: dict[int, str] = {}
    for (index, _), name in sharded:
        if index in seen:
            raise ValueError(f"shard {index}/{count} given twice ({seen[index]} and {name})")
        seen[index] = name
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if missing:
        raise ValueError(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing "
            f"(got {', '.join(f'{k}/{count}' for k in sorted(seen))})"
        )
