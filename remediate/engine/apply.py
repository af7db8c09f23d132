"""Change a host safely, in DESIGN.md's order:

lock → re-read and refuse a stale plan → back up files and runtime values → stage each
new file next to its target (original mode and owner) → validate → rename into place →
CONFIG SET live values → notified handlers and their checks → re-read and verify →
record the manifest → unlock. Any failure after the first write restores every file and
runtime value of the host, re-runs the handlers that ran, and reports "rolled back".

``execute()`` is that sequence for any change set; ``apply_target`` feeds it a plan and
``rollback`` feeds it a past run's backups, so both take the same safe path.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from remediate.engine.handlers import run_handler, run_handlers
from remediate.engine.survey import HostSurvey, gather_request, survey_target
from remediate.errors import ApplyFailed, RemediateError
from remediate.model.facts import RedisEndpoint
from remediate.model.outcomes import HostApplyResult
from remediate.model.plans import HostPlan
from remediate.model.runs import (
    HandlerResult,
    Manifest,
    ManifestFile,
    RuntimeEntry,
    iso_now,
    new_run_id,
)
from remediate.model.timeouts import Timeouts
from remediate.plan.planner import MergeCache, commands_changed
from remediate.playbook.render import Renderer
from remediate.playbook.schema import Handler
from remediate.playbook.targets import HostTarget, remote_path
from remediate.remote.connection import Connection, Held
from remediate.remote.container_mounts import baked_messages
from remediate.remote.gather import GatherReply, gather, gather_command, gathered, new_boundary
from remediate.remote.runtime import read_redis, set_redis
from remediate.remote.scripts import (
    WriteOp,
    finish_script,
    lock_script,
    parse_write_reply,
    write_script,
)


@dataclass(frozen=True)
class FileWrite:
    """One file to put in a new state. ``content`` None removes it."""

    path: str
    content: bytes | None
    mode: str
    uid: int | None
    gid: int | None
    owner: str
    group: str
    exists_now: bool
    sha_now: str
    validate: str | None = None
    remove_dirs: tuple[str, ...] = ()
    kind: str = ""  # the file's format (redis, rabbitmq...): a rollback reads redis.conf

    @property
    def sha_after(self) -> str:
        return "" if self.content is None else hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ChangeSet:
    writes: tuple[FileWrite, ...]
    runtime: tuple[RuntimeEntry, ...] = ()
    handlers: tuple[Handler, ...] = ()
    redis: RedisEndpoint | None = None  # for health checks, and live values without their own
    redis_by_source: Mapping[str, RedisEndpoint] = field(
        default_factory=dict
    )  # redis.conf -> its instance
    #: ``redis`` and ``redis_by_source`` as before the run (old passwords): until a handler
    #: restarted redis-server from the new file, and after a restore
    redis_restore: RedisEndpoint | None = None
    redis_by_source_restore: Mapping[str, RedisEndpoint] = field(default_factory=dict)

    def runtime_groups(self) -> list[tuple[RedisEndpoint, tuple[RuntimeEntry, ...]]]:
        """The live values to set, per instance (each redis.conf's own, else ``redis``)."""
        groups: dict[RedisEndpoint, list[RuntimeEntry]] = {}
        for entry in self.runtime:
            endpoint = self.redis_by_source.get(entry.source) or self.redis
            if endpoint is not None:
                groups.setdefault(endpoint, []).append(entry)
        return [(endpoint, tuple(entries)) for endpoint, entries in groups.items()]


def backup_dir(target: HostTarget) -> str:
    configured = str(target.host.vars.get("remediate_backup_dir") or "/var/lib/remediate")
    return remote_path(target.host.root, configured)


def keep_runs(target: HostTarget) -> int:
    return max(1, int(target.host.vars.get("remediate_keep_runs") or 10))


def host_lock(
    conn: Connection, target: HostTarget, timeouts: Timeouts, then: Sequence[str] = ()
) -> Held:
    """Take the host's lock; ``then`` runs once it is held, its output in ``Held.output``."""
    marker = new_boundary("done-") if then else ""
    return conn.hold(
        lock_script(
            posixpath.join(backup_dir(target), "lock"), int(timeouts.lock_wait), then, marker
        ),
        timeout=timeouts.lock,
        until=marker.encode(),
    )


def locked_gather(
    conn: Connection,
    target: HostTarget,
    timeouts: Timeouts,
    paths: Sequence[str],
    probes: Mapping[str, str] | None = None,
    globs: Sequence[str] = (),
) -> tuple[Held, GatherReply]:
    """Take the host's lock and gather ``paths`` (and ``globs``' matches) in the same round trip."""
    boundary = new_boundary()
    held = host_lock(conn, target, timeouts, gather_command(paths, probes or {}, boundary, globs))
    try:
        return held, gathered(held.output, boundary, paths, conn.host.name, globs=globs)
    except RemediateError:
        held.release()
        raise


def apply_target(
    conn: Connection,
    target: HostTarget,
    renderer: Renderer,
    timeouts: Timeouts,
    expected: HostPlan | None = None,
    cache: MergeCache | None = None,
    allow_pending_live: bool = False,
    run_id: str = "",
) -> HostApplyResult:
    """Apply on one host under its lock. ``expected``: a saved plan the host must still match.

    A file with ``live: true`` whose running instance could not be read fails the host before
    anything is written, unless ``allow_pending_live``: then the files are written and the host
    is reported ``pending restart`` (its live values were not set). ``run_id``: the
    invocation's id, the same on every host (a new one when empty)."""
    held, reply = locked_gather(conn, target, timeouts, *gather_request(target))
    try:
        survey = survey_target(conn, target, renderer, timeouts, cache, reply)
        plan = survey.plan
        if expected is not None:
            stale = stale_reason(expected, plan)
            if stale:
                return HostApplyResult(
                    plan.host, plan.address, "failed", plan, error=f"stale plan: {stale}"
                )
        pending = plan.facts.get("redis", {}).get("pending", {})
        unknown = "; ".join(f"{c}: {s}" for c, s in plan.unknown.items())
        if pending and not allow_pending_live:
            names = "; ".join(f"{path} ({', '.join(n)})" for path, n in pending.items())
            return HostApplyResult(
                plan.host,
                plan.address,
                "failed",
                plan,
                error=(
                    f"live state {unknown}: cannot set {names} on the running server; nothing was written "
                    "(--allow-pending-live writes the files and leaves the live values pending a restart)"
                ),
            )
        if not plan.changed:
            return HostApplyResult(plan.host, plan.address, "ok", plan, findings_of=FOUND)
        ran: list[HandlerResult] = []
        status, run_id, messages, error = execute(
            conn, target, change_set(target, survey), "apply", "", timeouts, held.pid, ran, run_id
        )
        messages += baked_messages(plan.facts, [f.path for f in plan.files if f.changed])
        plan, findings_of = findings_after(conn, target, renderer, timeouts, plan, status)
        if pending and status == "changed":
            status = "pending restart"
            messages += tuple(
                f"{path}: live values not set ({unknown}): {', '.join(n)} take effect at the "
                "next restart"
                for path, n in pending.items()
            )
        return HostApplyResult(
            plan.host, plan.address, status, plan, run_id, messages, error, tuple(ran), findings_of
        )
    finally:
        held.release()


FOUND = "files as found"
WRITTEN = "files as written"


def findings_after(
    conn: Connection,
    target: HostTarget,
    renderer: Renderer,
    timeouts: Timeouts,
    plan: HostPlan,
    status: str,
) -> tuple[HostPlan, str]:
    """``plan`` with the findings of the host as the run left it: re-read (files, live values)
    when it wrote something; as found when nothing stayed written (failed, rolled back)."""
    if status not in ("changed", "pending restart"):
        return plan, FOUND
    try:
        now = survey_target(conn, target, renderer, timeouts).plan
    except Exception as exc:  # noqa: BLE001  (the apply is done: say the findings are older)
        reason = exc.message if isinstance(exc, RemediateError) else type(exc).__name__
        return plan, f"files as found before the apply (re-reading failed: {reason})"
    return replace(plan, findings=now.findings), WRITTEN


def stale_reason(expected: HostPlan, now: HostPlan) -> str:
    """Why the host no longer matches a saved plan ("" when it does)."""
    before = {f.path: f for f in expected.files}
    for current in now.files:
        saved = before.get(current.path)
        if saved is None:
            return f"{current.path} was not in the saved plan"
        if saved.sha256_before != current.sha256_before:
            return (
                f"{current.path} changed since the plan was made "
                f"(sha256 now {current.sha256_before[:12] or 'absent'}, planned "
                f"{saved.sha256_before[:12] or 'absent'})"
            )
        if saved.sha256_after != current.sha256_after:
            return f"{current.path} would now be written differently than planned (inputs changed)"
        if commands_changed(saved, current):
            return commands_changed(saved, current)
    return ""


def change_set(target: HostTarget, survey: HostSurvey) -> ChangeSet:
    """What a plan asks of the host: files, live values, handlers."""
    writes = []
    for planned in survey.planned:
        if not planned.plan.changed:
            continue
        fact = survey.facts.files[planned.plan.path]
        writes.append(
            FileWrite(
                planned.plan.path,
                planned.new_content,
                planned.plan.mode,
                fact.uid if fact.exists else 0,
                fact.gid if fact.exists else 0,
                planned.plan.owner,
                planned.plan.group,
                fact.exists,
                fact.sha256,
                planned.plan.validate,
                kind=planned.plan.kind,
            )
        )
    by_path = {p.plan.path: p for p in survey.planned if p.plan.kind == "redis"}
    first = next(iter(by_path), "")
    runtime = []
    for r in survey.plan.runtime_changes:
        source = r.source or first
        live = survey.facts.redis_for(source)
        endpoint = survey.endpoints.get(source) or survey.redis
        conf = by_path.get(source)
        desired = conf.new_doc.settings() if conf else {}
        runtime.append(
            RuntimeEntry(
                r.service,
                r.setting,
                live.config.get(r.setting, "") if live else "",
                str(desired.get(r.setting, "")),
                *((endpoint.address, endpoint.port) if endpoint else ("", 0)),
                source=source,
            )
        )
    return ChangeSet(
        tuple(writes),
        tuple(runtime),
        tuple(_notified(target, survey)),
        after_restart(survey, survey.redis),
        {path: after_restart(survey, ep, path) or ep for path, ep in survey.endpoints.items()},
        redis_restore=survey.redis,
        redis_by_source_restore=dict(survey.endpoints),
    )


def after_restart(
    survey: HostSurvey, endpoint: RedisEndpoint | None, path: str = ""
) -> RedisEndpoint | None:
    """``endpoint`` once the written redis.conf (``path``, or any) is what runs: with its new
    ``requirepass`` when the run changes it (a password is only ever changed by restart).
    A password from the inventory (``redis_password``) is the operator's and is kept."""
    if endpoint is None:
        return None
    for planned in survey.planned:
        if planned.plan.kind != "redis" or not planned.plan.changed:
            continue
        if path and planned.plan.path != path:
            continue
        before = planned.live_doc.settings().get("requirepass") if planned.live_doc else None
        after = planned.new_doc.settings().get("requirepass")
        if before != after and endpoint.password in (before, None):
            return replace(endpoint, password=str(after) if after else None)
    return endpoint


def _notified(target: HostTarget, survey: HostSurvey) -> list[Handler]:
    """Handlers notified by changed files, once each, in the order the plays declare them."""
    wanted = {name for p in survey.planned if p.plan.changed for name in p.plan.handlers}
    ordered: list[Handler] = []
    for managed in target.files:
        for name, handler in managed.handlers.items():
            if name in wanted and handler not in ordered:
                ordered.append(handler)
    return ordered


def execute(
    conn: Connection,
    target: HostTarget,
    changes: ChangeSet,
    kind: str,
    of_run: str,
    timeouts: Timeouts,
    holder: int,
    ran: list[HandlerResult] | None = None,
    run_id: str = "",
) -> tuple[str, str, tuple[str, ...], str]:
    """Back up, write, set runtime values, run handlers, verify, record; roll back on failure.

    Returns (status, run id, messages, error); ``ran`` (if given) receives the handlers that
    ran, with their checks. The caller holds the host lock. ``run_id``: the invocation's id,
    shared by every host it touches (a new one when empty).
    """
    base = backup_dir(target)
    run_id = run_id or new_run_id()
    run_dir = posixpath.join(base, "runs", run_id)
    ops = [
        WriteOp(i, w.path, w.content, w.mode, w.uid, w.gid, w.exists_now, w.validate, w.remove_dirs)
        for i, w in enumerate(changes.writes)
    ]
    files = [
        ManifestFile(
            w.path,
            w.exists_now,
            w.sha_now,
            w.sha_after,
            w.mode,
            w.uid,
            w.gid,
            w.owner,
            w.group,
            posixpath.join(run_dir, "files", str(i)) if w.exists_now else None,
            kind=w.kind,
        )
        for i, w in enumerate(changes.writes)
    ]
    manifest = Manifest(
        run_id,
        target.host.name,
        kind,
        "started",
        iso_now(),
        of_run=of_run,
        files=tuple(files),
        runtime=changes.runtime,
    )
    reply = conn.run(
        ["sh", "-s"],
        stdin=write_script(run_dir, run_id, ops, manifest.to_bytes(), holder).encode(),
        timeout=timeouts.write,
    )
    results = parse_write_reply(reply.stdout)
    files = [
        replace(f, created_dirs=results[i].created_dirs, how=_how(results[i].status))
        if i in results
        else f
        for i, f in enumerate(files)
    ]
    manifest = manifest.with_(files=tuple(files))
    messages = tuple(
        f"{f.path}: rename failed (a mount point?); copied in place instead"
        for f in files
        if f.how.startswith("copied")
    )
    written = [
        i for i, r in results.items() if i >= 0 and r.status in ("renamed", "copied", "removed")
    ]
    if reply.exited != 0 or len(written) != len(ops):
        problem = _write_problem(results, ops, reply.exited, reply.stderr)
        validate_failed = any(r.status == "validate-failed" for r in results.values())
        if not written:
            status = "rolled back" if validate_failed else "failed"
            _finish(
                conn,
                target,
                manifest.with_(status=status, finished=iso_now(), notes=(problem,)),
                run_dir,
                timeouts,
            )
            return status, run_id, messages, problem
        return _roll_back(
            conn,
            target,
            changes,
            manifest,
            written,
            (),
            (),
            run_dir,
            problem,
            messages,
            holder,
            timeouts,
        )

    applied_runtime: tuple[RuntimeEntry, ...] = ()
    ran = ran if ran is not None else []
    try:
        for endpoint, entries in before_restart(changes).runtime_groups():
            applied_runtime += entries  # before the SET: a failed SET may have taken some values
            now = set_redis(
                conn, endpoint, {r.setting: r.after for r in entries}, timeouts.exchange
            )
            wrong = [r.setting for r in entries if not _same(now.get(r.setting, ""), r.after)]
            if wrong:
                raise ApplyFailed(
                    f"Redis at {endpoint} did not take {', '.join(wrong)} "
                    "(CONFIG GET after CONFIG SET says otherwise)"
                )
        for result in run_handlers(conn, changes.handlers, changes.redis, timeouts):
            ran.append(result)
            if not result.ok:
                raise ApplyFailed(f"handler {result.name!r} failed: {result.output}")
        verify_runtime(conn, changes if ran else before_restart(changes), timeouts)
    except RemediateError as exc:
        return _roll_back(
            conn,
            target,
            changes,
            manifest.with_(handlers=tuple(ran)),
            written,
            applied_runtime,
            ran,
            run_dir,
            exc.message,
            messages,
            holder,
            timeouts,
        )
    except Exception as exc:  # noqa: BLE001  (redis errors and the like: still restore the host)
        return _roll_back(
            conn,
            target,
            changes,
            manifest.with_(handlers=tuple(ran)),
            written,
            applied_runtime,
            ran,
            run_dir,
            f"{type(exc).__name__}: {exc}",
            messages,
            holder,
            timeouts,
        )
    expected = [(w.path, w.sha_after) for w in changes.writes]
    if not _finish(
        conn,
        target,
        manifest.with_(status="applied", finished=iso_now(), handlers=tuple(ran)),
        run_dir,
        timeouts,
        expected,
    ):
        problem = "verify: the files are not what was written"
        try:
            verify(conn, changes, timeouts)  # which file: only on this rare path
        except RemediateError as exc:
            problem = exc.message
        return _roll_back(
            conn,
            target,
            changes,
            manifest.with_(handlers=tuple(ran)),
            written,
            applied_runtime,
            ran,
            run_dir,
            problem,
            messages,
            holder,
            timeouts,
        )
    return "changed", run_id, messages, ""


def before_restart(changes: ChangeSet) -> ChangeSet:
    """``changes`` with the endpoints as they are until a handler restarts redis-server (the
    old passwords): live values are set before any handler runs."""
    if changes.redis_restore is None and not changes.redis_by_source_restore:
        return changes
    return replace(
        changes,
        redis=changes.redis_restore or changes.redis,
        redis_by_source=changes.redis_by_source_restore or changes.redis_by_source,
    )


def _how(status: str) -> str:
    return "copied in place (rename failed: mount point)" if status == "copied" else status


def _same(live: str, wanted: str) -> bool:
    return live.strip().lower() == wanted.strip().lower()


def _write_problem(results: dict, ops: Sequence[WriteOp], exited: int, stderr: bytes) -> str:  # type: ignore[type-arg]
    if -1 in results:
        return results[-1].detail
    for op in ops:
        r = results.get(op.index)
        if r and r.status == "validate-failed":
            return f"validate failed for {op.path}: {r.detail.strip()}"
        if r and r.status == "error":
            return f"{op.path}: {r.detail}"
    text = stderr.decode("utf-8", "replace").strip()
    return f"write failed (exit {exited}){': ' + text.splitlines()[-1] if text else ''}"


def verify(conn: Connection, changes: ChangeSet, timeouts: Timeouts) -> None:
    """Re-read every written file and live value; raise if anything is not as intended."""
    reply = gather(conn, [w.path for w in changes.writes], timeout=timeouts.gather)
    for w in changes.writes:
        fact = reply.files[w.path]
        if (fact.sha256 if fact.exists else "") != w.sha_after:
            raise ApplyFailed(f"verify: {w.path} is not what was written")
    verify_runtime(conn, changes, timeouts)


def verify_runtime(conn: Connection, changes: ChangeSet, timeouts: Timeouts) -> None:
    """Re-read the live values this run set; raise if Redis does not report them.

    The files are checked by the script that records the run (``_finish``), in the same
    round trip.
    """
    for endpoint, entries in changes.runtime_groups():
        now = read_redis(conn, endpoint, [r.setting for r in entries], timeouts.exchange)
        for entry in entries:
            if not _same(now.config.get(entry.setting, ""), entry.after):
                raise ApplyFailed(
                    f"verify: Redis {entry.setting} at {endpoint} is "
                    f"{now.config.get(entry.setting)!r} ({now.live_state})"
                )


def _roll_back(
    conn: Connection,
    target: HostTarget,
    changes: ChangeSet,
    manifest: Manifest,
    written: Sequence[int],
    runtime: Sequence[RuntimeEntry],
    ran: Sequence[HandlerResult],
    run_dir: str,
    problem: str,
    messages: tuple[str, ...],
    holder: int,
    timeouts: Timeouts,
) -> tuple[str, str, tuple[str, ...], str]:
    """Undo everything this run changed on the host; say what could not be undone."""
    notes = [problem]
    originals = _originals(conn, [manifest.files[i] for i in written], timeouts)
    restore = []
    for i in written:
        w, f = changes.writes[i], manifest.files[i]
        restore.append(
            WriteOp(
                i,
                w.path,
                originals.get(f.path) if w.exists_now else None,
                f.mode,
                f.uid,
                f.gid,
                True,
                None,
                f.created_dirs,
            )
        )
    if restore:
        reply = conn.run(
            ["sh", "-s"],
            stdin=write_script(
                run_dir + "/restore", manifest.run_id, restore, manifest.to_bytes(), holder
            ).encode(),
            timeout=timeouts.restore,
        )
        done = parse_write_reply(reply.stdout)
        for op in restore:
            if op.index not in done or done[op.index].status not in (
                "renamed",
                "copied",
                "removed",
            ):
                notes.append(f"could not restore {op.path}")
    undo = replace(changes if ran else before_restart(changes), runtime=tuple(runtime))
    for endpoint, entries in undo.runtime_groups():
        try:
            set_redis(conn, endpoint, {r.setting: r.before for r in entries}, timeouts.exchange)
        except Exception as exc:  # noqa: BLE001  (report it and keep restoring the rest)
            notes.append(
                f"could not restore Redis runtime values at {endpoint}: {type(exc).__name__}"
            )
    handlers = {h.name: h for h in changes.handlers}
    for result in ran:
        again = run_handler(
            conn, handlers[result.name], changes.redis_restore or changes.redis, timeouts
        )
        if not again.ok:
            notes.append(f"handler {result.name!r} failed after the restore: {again.output}")
    _finish(
        conn,
        target,
        manifest.with_(status="rolled back", finished=iso_now(), notes=tuple(notes)),
        run_dir,
        timeouts,
    )
    return "rolled back", manifest.run_id, messages + tuple(notes[1:]), problem


def _originals(
    conn: Connection, files: Sequence[ManifestFile], timeouts: Timeouts
) -> dict[str, bytes]:
    """The bytes files had before a run, from its backups on the host (one round trip)."""
    backups = {f.backup: f for f in files if f.backup}
    if not backups:
        return {}
    facts = gather(conn, list(backups), timeout=timeouts.gather).files
    out = {}
    for backup, f in backups.items():
        fact = facts[backup]
        if not fact.exists or fact.sha256 != f.sha256_before:
            raise ApplyFailed(f"backup of {f.path} is missing or damaged ({backup})")
        out[f.path] = fact.content
    return out


def _finish(
    conn: Connection,
    target: HostTarget,
    manifest: Manifest,
    run_dir: str,
    timeouts: Timeouts,
    verify: Sequence[tuple[str, str]] = (),
) -> bool:
    """Record ``manifest`` (after checking ``verify``'s files); False if a file was not as expected."""
    base = backup_dir(target)
    script = finish_script(
        run_dir,
        posixpath.join(base, "runs"),
        keep_runs(target),
        manifest.to_bytes(),
        manifest.run_id,
        verify,
    )
    reply = conn.run(["sh", "-s"], stdin=script.encode(), timeout=timeouts.record)
    return not (reply.exited == 7 and b"@BAD" in reply.stdout)
