"""Survey a fleet: select hosts, render their templates, then over one SSH connection
per host gather files and runtime state and plan the changes.

Everything that can be checked without a host (inventory, playbook, templates) is
checked by ``prepare`` before any connection is made.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.engine.fanout import HostOutcome, Progress, run_on_hosts
from remediate.errors import PlaybookError, RemediateError
from remediate.formats import ABSENT
from remediate.model.facts import HostFacts, RedisEndpoint
from remediate.model.plans import HostPlan
from remediate.model.secrets import Masker
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
from remediate.playbook.schema import FileSpec, Handler, Playbook
from remediate.remote.connection import Connection, ConnectOptions
from remediate.remote.gather import GatherReply, gather
from remediate.remote.runtime import (
    LIMITS_PROBE,
    RABBITMQ_PROBE,
    parse_limits_probe,
    parse_rabbitmq_probe,
    read_redis,
)

#: broker URL settings a celery file may name, in the spellings Celery accepts
BROKER_URL_NAMES = ("broker_url", "BROKER_URL", "CELERY_BROKER_URL")
#: schemes the pre-flight render tries, so both branches of a celery template are checked
PREFLIGHT_SCHEMES = ("redis", "amqp")


@dataclass(frozen=True)
class ManagedFile:
    spec: FileSpec
    remote_path: str
    handlers: Mapping[str, Handler]
    variables: Mapping[str, Any]  # what its template sees: play defaults < host vars < play vars


@dataclass(frozen=True)
class HostTarget:
    """One selected host, what it manages, and the variables its templates see."""

    host: Any  # inventory.Host
    files: tuple[ManagedFile, ...]

    @property
    def variables(self) -> Mapping[str, Any]:
        return self.host.vars


def remote_path(root: str, path: str) -> str:
    """``path`` under the host's ``remediate_root`` (a prefix; "/" by default)."""
    if not root or root == "/":
        return path
    return posixpath.join(root, path.lstrip("/"))


def prepare(inventory: Any, playbook: Playbook, renderer: Renderer, limit: str | None = None,
            shard: tuple[int, int] | None = None) -> list[HostTarget]:
    """Resolve plays to hosts and pre-render every template: all input errors surface here."""
    per_host: dict[str, dict[str, ManagedFile]] = {}
    hosts: dict[str, Any] = {}
    for play in playbook.plays:
        for host in inventory.select(limit, within=play.hosts) if limit else inventory.select(play.hosts):
            hosts[host.name] = host
            variables = {**play.defaults, **host.vars, **play.vars,
                         "inventory_hostname": host.name, "group_names": sorted(host.groups)}
            files = per_host.setdefault(host.name, {})
            for spec in play.files:
                path = remote_path(host.root, spec.path)
                if path in files and files[path].spec != spec:
                    raise PlaybookError(f"{spec.path} is managed by two plays for host {host.name}",
                                        path=playbook.path, line=spec.line)
                files[path] = ManagedFile(spec, path, play.handlers, variables)
    targets = []
    for name, files in per_host.items():
        for managed in files.values():
            renderer.check(managed.spec.template)
            for scheme in PREFLIGHT_SCHEMES:
                renderer.render(managed.spec.template, template_vars(managed.variables, {}, scheme))
        targets.append(HostTarget(hosts[name], tuple(files.values())))
    order = {name: i for i, name in enumerate(inventory.hosts)}
    targets.sort(key=lambda t: order.get(t.host.name, len(order)))
    if shard:
        targets = [t for t in targets if shard_of(t.host.name, shard[1]) == shard[0] - 1]
    return targets


def shard_of(name: str, shards: int) -> int:
    """A stable shard for a host name (it never moves as the inventory grows)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % shards


def template_vars(variables: Mapping[str, Any], live_settings: Mapping[str, Any],
                  scheme: str | None = None) -> dict[str, Any]:
    """Variables a template sees: host + play vars, the live file's settings, the broker scheme."""
    if scheme is None:
        scheme = str(variables.get("celery_broker_transport") or broker_scheme(live_settings))
    return {**variables, "live_settings": dict(live_settings), "broker_scheme": scheme}


def broker_scheme(settings: Mapping[str, Any]) -> str:
    """The broker transport a celery file uses (Celery's default broker is AMQP)."""
    for name in BROKER_URL_NAMES:
        value = settings.get(name, ABSENT)
        if value is ABSENT:
            continue
        # a literal URL, or the first URL literal inside an expression such as
        # os.environ.get("CELERY_BROKER_URL", "redis://...")
        match = re.search(r"([a-zA-Z][a-zA-Z0-9+]*)://", str(value))
        if match:
            scheme = match.group(1).lower()
            return {"pyamqp": "amqp", "amqps": "amqp", "librabbitmq": "amqp"}.get(scheme, scheme)
    return "amqp"


@dataclass(frozen=True)
class HostSurvey:
    """One host surveyed: its plan, plus what apply needs and JSON does not hold."""

    plan: HostPlan
    planned: tuple[PlannedFile, ...]
    facts: HostFacts
    redis: RedisEndpoint | None  # as the host sees it


def plan_target(conn: Connection, target: HostTarget, renderer: Renderer, timeout: float,
                cache: MergeCache | None = None) -> HostPlan:
    return survey_target(conn, target, renderer, timeout, cache).plan


def gather_request(target: HostTarget) -> tuple[list[str], dict[str, str]]:
    """The paths and probes a survey of ``target`` gathers."""
    probes = {"limits": LIMITS_PROBE}
    if any(m.spec.kind == "rabbitmq" for m in target.files):
        probes["rabbitmq"] = RABBITMQ_PROBE
    return [m.remote_path for m in target.files], probes


def survey_target(conn: Connection, target: HostTarget, renderer: Renderer, timeout: float,
                  cache: MergeCache | None = None, reply: GatherReply | None = None) -> HostSurvey:
    """All planning work for one host over one connection: gather, render, merge, read runtime.

    ``reply``: the host's gather, when the caller already has it (apply gathers in the
    round trip that takes the host lock)."""
    if reply is None:
        paths, probes = gather_request(target)
        reply = gather(conn, paths, probes, timeout=timeout + 25)
    masker = Masker(_secret_vars(target.variables))
    cache = cache or MergeCache()
    facts = HostFacts(reply.files, limits=parse_limits_probe(reply.probes["limits"].output))
    planned: list[PlannedFile] = []
    for managed in target.files:
        fact = reply.files[managed.remote_path]
        live_settings: Mapping[str, Any] = {}
        if fact.readable and fact.exists and managed.spec.kind == "celery":
            live_settings = cache.settings("celery", managed.remote_path, fact.content)
        rendered = renderer.render(managed.spec.template, template_vars(managed.variables, live_settings))
        planned.append(plan_file(DesiredFile(managed.spec, managed.remote_path, rendered, managed.handlers),
                                 facts, masker, cache))
    redis = endpoint = None
    for managed, planned_file in zip(target.files, planned):
        if planned_file.plan.kind == "redis":
            endpoint = redis_endpoint(managed.variables, planned_file)
            if endpoint.password:
                masker.add([endpoint.password])
            managed_names = {c.setting for c in planned_file.plan.changes} | set(REDIS_LIVE)
            redis = read_redis(conn, endpoint, sorted(managed_names), timeout)
            break
    rabbit = None
    if "rabbitmq" in reply.probes:
        probe = reply.probes["rabbitmq"]
        rabbit = parse_rabbitmq_probe(probe.output, probe.exited)
    facts = HostFacts(reply.files, redis, rabbit, facts.limits)
    plan = host_plan(target.host.name, target.host.address, planned, facts, masker)
    variables: dict[str, Any] = {}
    for managed in target.files:
        variables.update(managed.variables)
    findings = host_findings(planned, facts, variables, masker, cache)
    plan = dataclasses.replace(plan, findings=findings)
    return HostSurvey(plan, tuple(planned), facts, endpoint)


def redis_endpoint(variables: Mapping[str, Any], planned: PlannedFile | Mapping[str, Any]) -> RedisEndpoint:
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


def _secret_vars(variables: Mapping[str, Any]) -> list[str]:
    from remediate.model.secrets import SECRET_VAR

    return [str(v) for k, v in variables.items() if SECRET_VAR.search(k) and isinstance(v, str | int)]


def modules_for(targets: Sequence[HostTarget]) -> list[str]:
    """What planning these targets will import: warmed while connections open."""
    from remediate.formats import module_for

    kinds = sorted({m.spec.kind for t in targets for m in t.files})
    return (["redis"] if "redis" in kinds else []) + [module_for(k) for k in kinds] + ["remediate.rules"]


def plan_fleet(targets: Sequence[HostTarget], renderer: Renderer, options: ConnectOptions, forks: int,
               progress: Callable[[Progress], None] | None = None) -> list[HostPlan]:
    outcomes = run_on_hosts([t.host for t in targets], _work_for(targets, renderer, options.timeout),
                            options, forks, progress, warm=modules_for(targets))
    return [_as_plan(outcome, target) for outcome, target in zip(outcomes, targets)]


def _work_for(targets: Sequence[HostTarget], renderer: Renderer,
              timeout: float) -> Callable[[Connection], HostPlan]:
    by_name = {t.host.name: t for t in targets}
    cache = MergeCache()
    return lambda conn: plan_target(conn, by_name[conn.host.name], renderer, timeout, cache)


def _as_plan(outcome: HostOutcome[HostPlan], target: HostTarget) -> HostPlan:
    if outcome.value is not None:
        return outcome.value
    masker = Masker(_secret_vars(target.variables))
    return HostPlan(outcome.host, target.host.address, unreachable=masker(outcome.unreachable),
                    failed=masker(outcome.failed))


__all__ = ["HostTarget", "RemediateError", "plan_fleet", "prepare", "remote_path"]
