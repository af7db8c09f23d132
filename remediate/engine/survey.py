"""Survey a fleet: over one connection per host, gather files and runtime state, render the
host's templates against what is live, and plan the changes (targets come from
``remediate.playbook.targets.prepare``, which checks every input before any connection)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.engine.fanout import fan_out
from remediate.engine.live import RedisFile, live_redis
from remediate.formats import secrets_of
from remediate.model.facts import HostFacts, RedisEndpoint, RedisRuntime
from remediate.model.outcomes import HostOutcome, Progress
from remediate.model.plans import HostPlan
from remediate.model.secrets import Masker, secret_vars
from remediate.model.timeouts import Timeouts
from remediate.plan.planner import (
    REDIS_LIVE,
    DesiredFile,
    MergeCache,
    PlannedFile,
    host_findings,
    host_plan,
    plan_file,
)
from remediate.playbook.render import Renderer
from remediate.playbook.targets import HostTarget, absent_settings, expand_globs, template_vars
from remediate.remote import steps
from remediate.remote.connection import Connection, ConnectOptions
from remediate.remote.container_mounts import MOUNTS_PROBE, container_facts
from remediate.remote.gather import GatherReply, gather
from remediate.remote.processes import PROCESS_PROBE, parse_process_probe
from remediate.remote.runtime import (
    LIMITS_PROBE,
    RABBITMQ_PROBE,
    parse_limits_probe,
    parse_rabbitmq_probe,
)
from remediate.remote.worker_probe import WORKER_PROBE, workers_from


@dataclass(frozen=True)
class HostSurvey:
    """One host surveyed: its plan, plus what apply needs and JSON does not hold."""

    plan: HostPlan
    planned: tuple[PlannedFile, ...]
    facts: HostFacts
    redis: RedisEndpoint | None  # as the host sees it
    endpoints: Mapping[str, RedisEndpoint] = dataclasses.field(
        default_factory=dict
    )  # per redis.conf


def plan_target(
    conn: Connection,
    target: HostTarget,
    renderer: Renderer,
    timeouts: Timeouts,
    cache: MergeCache | None = None,
) -> HostPlan:
    plan = survey_target(conn, target, renderer, timeouts, cache).plan
    steps.log.debug(
        "%s: planned %d of %d files to change, %d findings",
        plan.host,
        sum(f.changed for f in plan.files),
        len(plan.files),
        len(plan.findings),
    )
    return plan


def gather_request(target: HostTarget) -> tuple[list[str], dict[str, str], list[str]]:
    """The paths, probes and glob patterns a survey of ``target`` gathers."""
    probes = {"limits": LIMITS_PROBE, "processes": PROCESS_PROBE, "workers": WORKER_PROBE}
    if any(m.spec.kind == "rabbitmq" for m in target.files):
        probes["rabbitmq"] = RABBITMQ_PROBE
    if target.host.connection in ("docker", "podman", "kubectl"):  # baked into the image?
        probes["mounts"] = MOUNTS_PROBE
    return target.paths, probes, target.globs


def survey_target(
    conn: Connection,
    target: HostTarget,
    renderer: Renderer,
    timeouts: Timeouts,
    cache: MergeCache | None = None,
    reply: GatherReply | None = None,
) -> HostSurvey:
    """All planning work for one host over one connection: gather, render, merge, read runtime.

    ``reply``: the host's gather, when the caller already has it (apply gathers in the
    round trip that takes the host lock)."""
    if target.host.connection == "redis":  # a service without a shell: protocol reads only
        from remediate.engine.redis_service import survey_service

        plan, service_facts = survey_service(conn, timeouts.exchange)  # type: ignore[arg-type]
        return HostSurvey(plan, (), service_facts, None)
    if reply is None:
        paths, probes, globs = gather_request(target)
        reply = gather(conn, paths, probes, timeout=timeouts.gather, globs=globs)
    target, unmatched = expand_globs(target, reply.matches)
    masker = Masker(secret_vars(target.variables))
    cache = cache or MergeCache()
    processes = (
        parse_process_probe(reply.probes["processes"].output) if "processes" in reply.probes else ()
    )
    facts = HostFacts(
        reply.files,
        limits=parse_limits_probe(reply.probes["limits"].output),
        processes=processes,
        unmatched=unmatched,
    )
    planned: list[PlannedFile] = []
    for managed in target.files:
        fact = reply.files[managed.remote_path]
        live_settings: Mapping[str, Any] = {}
        if fact.readable and fact.exists and managed.spec.kind == "celery":
            live_settings = cache.settings("celery", managed.remote_path, fact.content)
        seen = template_vars(managed.variables, live_settings)
        rendered = renderer.render(managed.spec.template, seen)
        absent = absent_settings(managed.spec, renderer, seen)
        planned.append(
            plan_file(
                DesiredFile(managed.spec, managed.remote_path, rendered, managed.handlers, absent),
                facts,
                masker,
                cache,
            )
        )
    endpoints: dict[str, RedisEndpoint] = {}
    redis_files = [(m, p) for m, p in zip(target.files, planned) if p.plan.kind == "redis"]
    by_file: dict[str, RedisRuntime] = {}
    instances: dict[int, RedisRuntime] = {}
    endpoint = None
    if redis_files:
        files = [
            RedisFile(p.plan.path, m.variables, p.live_doc.settings() if p.live_doc else {})
            for m, p in redis_files
        ]
        for f in files:
            password = f.variables.get("redis_password") or f.settings.get("requirepass")
            if password:
                masker.add([str(password)])
        names = {c.setting for _, p in redis_files for c in p.plan.changes} | set(REDIS_LIVE)
        live, instances = live_redis(conn, files, processes, names, timeouts.exchange)
        by_file = {path: found.runtime for path, found in live.items()}
        endpoints = {path: found.endpoint for path, found in live.items() if found.endpoint}
        first_managed, first = redis_files[0]
        endpoint = live[first.plan.path].endpoint or redis_endpoint(first_managed.variables, first)
    redis = next(iter(by_file.values()), None)
    rabbit = None
    if "rabbitmq" in reply.probes:
        probe = reply.probes["rabbitmq"]
        rabbit = parse_rabbitmq_probe(probe.output, probe.exited)
    workers = workers_from(reply.probes.get("workers"), processes, target.variables)
    facts = HostFacts(
        reply.files,
        redis,
        rabbit,
        facts.limits,
        processes,
        by_file,
        redis_instances=instances,
        unmatched=unmatched,
        workers=workers,
    )
    plan = host_plan(target.host.name, target.host.address, planned, facts, masker)
    variables: dict[str, Any] = {}
    for managed in target.files:
        variables.update(managed.variables)
    findings = host_findings(planned, facts, variables, masker, cache)
    plan = dataclasses.replace(plan, findings=findings)
    if "mounts" in reply.probes:
        target_of = getattr(conn, "target", None)
        container = container_facts(
            target.host.connection,
            getattr(target_of, "container", target.host.address),
            reply.probes["mounts"].output,
            [m.remote_path for m in target.files],
        )
        plan = dataclasses.replace(plan, facts={**plan.facts, "container": container})
    return HostSurvey(plan, tuple(planned), facts, endpoint, endpoints)


def redis_endpoint(
    variables: Mapping[str, Any], planned: PlannedFile | Mapping[str, Any]
) -> RedisEndpoint:
    """Where the host's Redis listens as the host sees it, and its password.

    Inventory vars win; else the live file's ``bind`` (first address), ``port``
    and ``requirepass``; else 127.0.0.1:6379 without a password.
    """
    settings: Mapping[str, Any]
    if isinstance(planned, PlannedFile):
        settings = planned.live_doc.settings() if planned.live_doc else {}
    else:
        settings = planned
    bind = str(settings.get("bind") or "127.0.0.1").split()[0].lstrip("-")
    if bind in ("*", "0.0.0.0", "::", "::*"):
        bind = "127.0.0.1"
    address = str(variables.get("redis_host") or bind)
    port = int(variables.get("redis_port") or str(settings.get("port") or "6379"))
    password = variables.get("redis_password") or settings.get("requirepass") or None
    return RedisEndpoint(address, port, str(password) if password else None)


def survey_facts(survey: HostSurvey) -> dict[str, Any]:
    """Managed settings as the files have them (secrets masked) and the runtime facts."""
    from remediate.formats import ABSENT
    from remediate.model.secrets import is_secret_setting
    from remediate.plan.planner import display_value

    masker = Masker()
    files = {}
    for planned in survey.planned:
        masker.add(secrets_of(planned.live_doc) if planned.live_doc else [])
    for planned in survey.planned:
        values = {}
        live = dict(planned.live_doc.managed_items()) if planned.live_doc else {}
        for key in planned.managed:
            value = live.get(key, ABSENT)
            secret = is_secret_setting(planned.plan.kind, key)
            values[key] = (
                "(unset)"
                if value is ABSENT
                else "********"
                if secret
                else masker(display_value(value, planned.plan.kind))
            )
        files[planned.plan.path] = {
            "kind": planned.plan.kind,
            "exists": planned.plan.exists,
            "mode": planned.plan.mode,
            "owner": planned.plan.owner,
            "group": planned.plan.group,
            "settings": values,
        }
    return {"address": survey.plan.address, "files": files, "runtime": survey.plan.facts}


def modules_for(targets: Sequence[HostTarget]) -> list[str]:
    """What planning these targets will import: warmed while connections open."""
    from remediate.formats import module_for

    kinds = sorted({m.spec.kind for t in targets for m in t.files})
    return (
        (["redis"] if "redis" in kinds else [])
        + [module_for(k) for k in kinds]
        + ["remediate.rules"]
    )


def plan_fleet(
    targets: Sequence[HostTarget],
    renderer: Renderer,
    options: ConnectOptions,
    forks: int,
    progress: Callable[[Progress], None] | None = None,
) -> list[HostPlan]:
    cache = MergeCache()
    outcomes = fan_out(
        targets,
        lambda conn, target: plan_target(conn, target, renderer, options.timeouts, cache),
        options,
        forks,
        progress,
        warm=modules_for(targets),
    )
    return [_as_plan(outcome, target) for outcome, target in zip(outcomes, targets)]


def _as_plan(outcome: HostOutcome[HostPlan], target: HostTarget) -> HostPlan:
    if outcome.value is not None:
        return outcome.value
    masker = Masker(secret_vars(target.variables))
    return HostPlan(
        outcome.host,
        target.host.address,
        unreachable=masker(outcome.unreachable),
        failed=masker(outcome.failed),
    )


__all__ = ["HostSurvey", "plan_fleet", "survey_target"]
