"""Undo a past run on a host, and list the runs a host keeps.

A rollback is itself a run: it writes each file's backup back through ``apply.execute``
(same lock, backups, atomic writes, handlers and verification), so it can be undone too.
A file is restored only where it is still what the run wrote, unless ``force``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from remediate.engine.apply import ChangeSet, FileWrite, backup_dir, execute, host_lock
from remediate.engine.live import RedisFile, live_redis
from remediate.engine.survey import redis_endpoint
from remediate.errors import RemediateError
from remediate.formats import parse
from remediate.model.facts import FileFact, ProcessFact, RedisEndpoint
from remediate.model.fleet_runs import UNDOABLE, last_apply_run, undone_by
from remediate.model.outcomes import RollbackResult
from remediate.model.runs import Manifest, RuntimeEntry
from remediate.model.timeouts import Timeouts
from remediate.playbook.schema import Handler
from remediate.playbook.targets import HostTarget
from remediate.remote.connection import Connection, Held
from remediate.remote.gather import gather, new_boundary
from remediate.remote.processes import PROCESS_PROBE, parse_process_probe
from remediate.remote.scripts import parse_runs_reply, read_runs_command


def read_manifests(conn: Connection, target: HostTarget) -> list[Manifest]:
    """Every run manifest the host keeps, oldest first."""
    boundary = new_boundary()
    reply = conn.run(read_runs_command(posixpath.join(backup_dir(target), "runs"), boundary))
    return _manifests(reply.stdout, boundary, target)


def locked_manifests(
    conn: Connection, target: HostTarget, timeouts: Timeouts
) -> tuple[Held, list[Manifest]]:
    """Take the host's lock and read its run manifests in the same round trip."""
    boundary = new_boundary()
    held = host_lock(
        conn,
        target,
        timeouts,
        read_runs_command(posixpath.join(backup_dir(target), "runs"), boundary),
    )
    try:
        return held, _manifests(held.output, boundary, target)
    except RemediateError:
        held.release()
        raise


def _manifests(stdout: bytes, boundary: str, target: HostTarget) -> list[Manifest]:
    try:
        raw = parse_runs_reply(stdout, boundary)
    except ValueError as exc:
        raise RemediateError(f"cannot list runs: {exc}", host=target.host.name) from None
    manifests = []
    for run_id in sorted(raw):
        try:
            manifests.append(Manifest.from_bytes(raw[run_id]))
        except (ValueError, TypeError, KeyError):
            continue  # a manifest cut short by a killed run: its directory still holds the backups
    return manifests


def pick_run(manifests: list[Manifest], run_id: str | None) -> Manifest | None:
    """``run_id``'s manifest on this host; without one, its last *apply* run (never a rollback)."""
    wanted = run_id or last_apply_run({"": manifests})
    return next((m for m in manifests if m.run_id == wanted), None)


@dataclass(frozen=True)
class RollbackPlan:
    """What undoing a run on one host will do, and what it cannot do (``blocked``)."""

    changes: ChangeSet
    restored: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # "path: why", both the harmless and the blocking ones
    runtime: tuple[str, ...]
    blocked: int  # files and live values left as they are because they changed since the run


def rollback_target(
    conn: Connection,
    target: HostTarget,
    run_id: str | None,
    force: bool,
    dry_run: bool,
    timeouts: Timeouts,
    new_run: str = "",
) -> RollbackResult:
    """Undo ``run_id`` (its last apply run when None) on one host, under its lock.

    ``new_run``: the id this rollback runs as, the same on every host. A host that ``run_id``
    did not touch, or where a rollback of it still stands, is left alone and says so. Files
    or live values that changed since the run are skipped (unless ``force``): the host is
    then ``partial``.
    """
    name = target.host.name
    held, manifests = locked_manifests(conn, target, timeouts)
    try:
        run = pick_run(manifests, run_id)
        if run is None:
            if run_id:
                return RollbackResult(name, "ok", note=f"run {run_id} did not touch this host")
            return RollbackResult(name, "ok", note="no apply run to roll back on this host")
        undone = undone_by(manifests, run.run_id)
        if undone and not force:
            return RollbackResult(
                name, "ok", run.run_id, note=f"run {run.run_id} was already rolled back by {undone}"
            )
        if run.status not in UNDOABLE:
            return RollbackResult(
                name, "ok", run.run_id, note=f"run {run.run_id} {run.status}: nothing to undo"
            )
        plan = plan_rollback(conn, target, run, force, timeouts)
        partial = plan.blocked > 0
        if dry_run or not (plan.changes.writes or plan.changes.runtime):
            todo = plan.restored or plan.removed or plan.changes.runtime
            status = "partial" if partial else "changed" if dry_run and todo else "ok"
            return _result(name, status, run.run_id, "", plan, "")
        status, ran_as, _, error = execute(
            conn, target, plan.changes, "rollback", run.run_id, timeouts, held.pid, run_id=new_run
        )
        if status == "changed" and partial:
            status = "partial"
        return _result(name, status, run.run_id, ran_as, plan, error)
    finally:
        held.release()


def _result(
    name: str, status: str, of_run: str, run_id: str, plan: RollbackPlan, error: str
) -> RollbackResult:
    return RollbackResult(
        name,
        status,
        of_run,
        run_id,
        plan.restored,
        plan.skipped,
        plan.runtime,
        error,
        removed=plan.removed,
    )


def plan_rollback(
    conn: Connection, target: HostTarget, run: Manifest, force: bool, timeouts: Timeouts
) -> RollbackPlan:
    sources = sorted({r.source for r in run.runtime if r.source})
    paths = [f.path for f in run.files] + [f.backup for f in run.files if f.backup] + sources
    reply = gather(
        conn, list(dict.fromkeys(paths)), {"processes": PROCESS_PROBE}, timeout=timeouts.gather
    )
    facts = reply.files
    processes = parse_process_probe(reply.probes["processes"].output)
    writes: list[FileWrite] = []
    restored: list[str] = []
    removed: list[str] = []
    skipped: list[str] = []
    blocked = 0
    for f in run.files:
        now = facts[f.path]
        now_sha = now.sha256 if now.exists else ""
        if now_sha == f.sha256_before:
            skipped.append(f"{f.path}: already as before run {run.run_id}")
            continue
        if now_sha != f.sha256_after and not force:
            skipped.append(
                f"{f.path}: changed since run {run.run_id} (use --force to restore anyway)"
            )
            blocked += 1
            continue
        content = None
        if f.existed:
            backup = facts[f.backup] if f.backup else None
            if backup is None or not backup.exists or backup.sha256 != f.sha256_before:
                skipped.append(f"{f.path}: its backup is missing or damaged")
                blocked += 1
                continue
            content = backup.content
        writes.append(
            FileWrite(
                f.path,
                content,
                f.mode,
                f.uid,
                f.gid,
                f.owner,
                f.group,
                now.exists,
                now_sha,
                None,
                f.created_dirs,
                f.kind,
            )
        )
        (restored if f.existed else removed).append(f.path)
    runtime, lines, endpoints = _runtime_rollback(
        conn, target, run, facts, force, timeouts, processes
    )
    blocked += sum(line.endswith("; skipped") for line in lines)
    handlers = tuple(Handler(h.name, h.command, h.check) for h in run.handlers)
    first = next(iter(endpoints.values()), None)
    now_redis, restored_redis = redis_around_restart(target, writes, facts, first)
    # each instance after the handlers restarted it from its restored file (its password then)
    restored_by_source = {
        source: redis_around_restart(
            target, [w for w in writes if w.path == source], facts, endpoint
        )[1]
        or endpoint
        for source, endpoint in endpoints.items()
    }
    return RollbackPlan(
        ChangeSet(
            tuple(writes),
            runtime,
            handlers,
            restored_redis,
            restored_by_source,
            redis_restore=now_redis,
            redis_by_source_restore=endpoints,
        ),
        tuple(restored),
        tuple(removed),
        tuple(skipped),
        lines,
        blocked,
    )


def redis_around_restart(
    target: HostTarget,
    writes: list[FileWrite],
    facts: dict,  # type: ignore[type-arg]
    redis: RedisEndpoint | None,
) -> tuple[RedisEndpoint | None, RedisEndpoint | None]:
    """The Redis endpoint before and after the restored redis.conf is what runs: a password
    is only ever changed by restart, so the health check after the handler uses the restored
    file's ``requirepass`` and live values are set before with the current one."""
    for w in writes:
        if w.kind != "redis" or w.content is None:
            continue
        now = facts[w.path]
        now_settings = (
            parse("redis", now.content, w.path).settings() if now.exists and now.content else {}
        )
        then = parse("redis", w.content, w.path).settings()
        before = redis or redis_endpoint(target.host.vars, now_settings)
        if now_settings.get("requirepass") != then.get("requirepass") and before.password in (
            now_settings.get("requirepass"),
            None,
        ):
            password = then.get("requirepass")
            return before, replace(before, password=str(password) if password else None)
        return before, before
    return redis, redis


def _runtime_rollback(
    conn: Connection,
    target: HostTarget,
    run: Manifest,
    facts: Mapping[str, FileFact],
    force: bool,
    timeouts: Timeouts,
    processes: Sequence[ProcessFact] = (),
) -> tuple[tuple[RuntimeEntry, ...], tuple[str, ...], dict[str, RedisEndpoint]]:
    """The live values of ``run`` to restore, each on the instance that runs from its
    redis.conf, reached only through that redis-server's own listener as the live-truth
    discovery finds it (credentials go to no other socket). Returns the entries, one line per
    value, and the endpoint of each source file."""
    entries = [r for r in run.runtime if r.service == "redis"]
    by_source: dict[str, list[RuntimeEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source, []).append(entry)
    files = [
        RedisFile(source, target.host.vars, _settings(facts.get(source))) for source in by_source
    ]
    live, _ = live_redis(conn, files, processes, [r.setting for r in entries], timeouts.exchange)
    out: list[RuntimeEntry] = []
    lines: list[str] = []
    endpoints: dict[str, RedisEndpoint] = {}
    for source, group in by_source.items():
        found = live.get(source)
        where = f" ({source})" if len(by_source) > 1 else ""
        if found is None or found.endpoint is None or not found.runtime.read:
            state = found.runtime.live_state if found is not None else "unknown"
            lines += [f"{r.setting}{where}: live value {state}; skipped" for r in group]
            continue
        endpoint, now_live = found.endpoint, found.runtime
        endpoints[source] = endpoint
        for r in group:
            show = _shown(r.setting)
            now = now_live.config.get(r.setting, "")
            if now.strip().lower() == r.before.strip().lower():
                lines.append(f"{r.setting}{where}: already {show(now)}")
            elif now.strip().lower() == r.after.strip().lower() or force:
                out.append(
                    RuntimeEntry(
                        r.service, r.setting, now, r.before, endpoint.address, endpoint.port, source
                    )
                )
                lines.append(f"{r.setting}{where}: {show(now)} → {show(r.before)}")
            else:
                lines.append(
                    f"{r.setting}{where}: live {show(now)} is neither what run {run.run_id} "
                    "set nor before; skipped"
                )
    return tuple(out), tuple(lines), endpoints


def _settings(source: FileFact | None) -> Mapping[str, object]:
    """The settings of a recorded redis.conf as it is now ({} when it cannot be read)."""
    if source is None or not source.readable or not source.exists:
        return {}
    return parse("redis", source.content, source.path).settings()


def _shown(setting: str):  # type: ignore[no-untyped-def]
    from remediate.model.secrets import is_secret_setting, masked

    return masked if is_secret_setting("redis", setting) else (lambda value: value)
