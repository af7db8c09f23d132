"""Undo a past run on a host, and list the runs a host keeps.

A rollback is itself a run: it writes each file's backup back through ``apply.execute``
(same lock, backups, atomic writes, handlers and verification), so it can be undone too.
A file is restored only where it is still what the run wrote, unless ``force``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from remediate.engine.apply import ChangeSet, FileWrite, backup_dir, execute, host_lock
from remediate.engine.live import config_command
from remediate.engine.survey import redis_endpoint
from remediate.errors import RemediateError
from remediate.formats import parse
from remediate.model.facts import FileFact, RedisEndpoint
from remediate.model.outcomes import RollbackResult
from remediate.model.runs import Manifest, RuntimeEntry
from remediate.model.timeouts import Timeouts
from remediate.playbook.schema import Handler
from remediate.playbook.targets import HostTarget
from remediate.remote.connection import Connection, Held
from remediate.remote.gather import gather, new_boundary
from remediate.remote.runtime import read_redis
from remediate.remote.scripts import parse_runs_reply, read_runs_command

UNDOABLE = ("applied", "started")  # "started": interrupted runs can be undone too


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
    if run_id:
        return next((m for m in manifests if m.run_id == run_id), None)
    undoable = [m for m in manifests if m.status in UNDOABLE]
    return undoable[-1] if undoable else None


def rollback_target(
    conn: Connection,
    target: HostTarget,
    run_id: str | None,
    force: bool,
    dry_run: bool,
    timeouts: Timeouts,
) -> RollbackResult:
    name = target.host.name
    held, manifests = locked_manifests(conn, target, timeouts)
    try:
        run = pick_run(manifests, run_id)
        if run is None:
            if run_id:
                return RollbackResult(name, "ok", run_id, error=f"no run {run_id} on this host")
            return RollbackResult(name, "ok", error="no run to roll back on this host")
        changes, restored, skipped, runtime_lines = _plan_rollback(
            conn, target, run, force, timeouts
        )
        if dry_run or not (changes.writes or changes.runtime):
            return RollbackResult(
                name,
                "ok" if not dry_run or not restored else "changed",
                run.run_id,
                restored=restored,
                skipped=skipped,
                runtime=runtime_lines,
            )
        status, new_run, _, error = execute(
            conn, target, changes, "rollback", run.run_id, timeouts, held.pid
        )
        return RollbackResult(
            name, status, run.run_id, new_run, restored, skipped, runtime_lines, error
        )
    finally:
        held.release()


def _plan_rollback(
    conn: Connection, target: HostTarget, run: Manifest, force: bool, timeouts: Timeouts
) -> tuple[ChangeSet, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    sources = sorted({r.source for r in run.runtime if r.source})
    paths = [f.path for f in run.files] + [f.backup for f in run.files if f.backup] + sources
    facts = gather(conn, list(dict.fromkeys(paths)), timeout=timeouts.gather).files
    writes, restored, skipped = [], [], []
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
            continue
        content = None
        if f.existed:
            backup = facts[f.backup] if f.backup else None
            if backup is None or not backup.exists or backup.sha256 != f.sha256_before:
                skipped.append(f"{f.path}: its backup is missing or damaged")
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
            )
        )
        restored.append(f.path)
    runtime, lines, endpoints = _runtime_rollback(conn, target, run, facts, force, timeouts)
    handlers = tuple(Handler(h.name, h.command, h.check) for h in run.handlers)
    first = next(iter(endpoints.values()), None)
    return (
        ChangeSet(tuple(writes), runtime, handlers, first, endpoints),
        tuple(restored),
        tuple(skipped),
        lines,
    )


def _runtime_rollback(
    conn: Connection,
    target: HostTarget,
    run: Manifest,
    facts: Mapping[str, FileFact],
    force: bool,
    timeouts: Timeouts,
) -> tuple[tuple[RuntimeEntry, ...], tuple[str, ...], dict[str, RedisEndpoint]]:
    """The live values of ``run`` to restore, each on the instance it was set on (the entry's
    address and port), with the password and CONFIG name of its redis.conf as apply reads them.
    Returns the entries, one line per value, and the endpoint of each source file."""
    entries = [r for r in run.runtime if r.service == "redis"]
    by_source: dict[str, list[RuntimeEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source, []).append(entry)
    out: list[RuntimeEntry] = []
    lines: list[str] = []
    endpoints: dict[str, RedisEndpoint] = {}
    for source, group in by_source.items():
        endpoint = _entry_endpoint(target, group[0], facts.get(source))
        endpoints[source] = endpoint
        live = read_redis(conn, endpoint, [r.setting for r in group], timeouts.exchange)
        where = f" at {endpoint}" if len(by_source) > 1 else ""
        for r in group:
            show = _shown(r.setting)
            if not live.read or r.setting not in live.config:
                lines.append(f"{r.setting}{where}: live value {live.live_state}; not restored")
                continue
            now = live.config[r.setting]
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


def _entry_endpoint(
    target: HostTarget, entry: RuntimeEntry, source: FileFact | None
) -> RedisEndpoint:
    """Where ``entry`` was set (its own address and port; older runs: the file's), and the
    password and CONFIG name of its redis.conf (inventory ``redis_password`` first)."""
    settings = (
        parse("redis", source.content, source.path).settings()
        if source is not None and source.readable
        else {}
    )
    found = redis_endpoint(target.host.vars, settings)
    return RedisEndpoint(
        entry.address or found.address,
        entry.port or found.port,
        found.password,
        config_command(settings),
    )


def _shown(setting: str):  # type: ignore[no-untyped-def]
    from remediate.model.secrets import is_secret_setting, masked

    return masked if is_secret_setting("redis", setting) else (lambda value: value)
