"""Pure planning: live files + rendered templates + runtime facts -> what would change.

No I/O here: ``collect`` gathers, this module decides, ``apply`` acts.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.errors import ParseError, PlaybookError
from remediate.formats import ABSENT, Change, Document, merge, parse, secrets_of
from remediate.model.facts import HostFacts, RedisInstance
from remediate.model.plans import FilePlan, HostPlan, RuntimeChange, SettingChange
from remediate.model.secrets import Masker, is_secret_setting, mask_urls, masked
from remediate.plan.effects import (  # noqa: F401  (re-exported: callers import them from here)
    DRIFT_CHECKED,
    EFFECT_BY_KIND,
    REDIS_LIVE,
    effect_of,
)
from remediate.playbook.schema import FileSpec, Handler


@dataclass(frozen=True)
class DesiredFile:
    """A managed file for one host, rendered before any host is contacted."""

    spec: FileSpec
    remote_path: str  # with remediate_root applied
    rendered: bytes
    handlers: Mapping[str, Handler]
    absent: tuple[str, ...] = ()  # settings to remove (the spec's ``absent:`` for this host)


@dataclass(frozen=True)
class PlannedFile:
    """A file plan together with the new bytes (kept in memory, never in JSON)."""

    plan: FilePlan
    new_content: bytes
    live_doc: Document | None
    new_doc: Document
    live: bool = True  # apply managed settings at runtime too (playbook `live:`)
    managed: tuple[str, ...] = ()  # the settings the template names


@dataclass(frozen=True)
class Merged:
    """Parse + merge of one (live bytes, rendered template) pair: the same for every host that
    has the same file, so a fleet computes it once (see ``MergeCache``)."""

    live_doc: Document | None
    desired_doc: Document
    new_doc: Document
    changes: tuple[Change, ...]
    new_content: bytes
    raw_diff: str
    secrets: tuple[str, ...]
    managed: tuple[str, ...]


class MergeCache:
    """Merge results keyed by kind, strategy, path and the exact bytes on both sides.

    Fleets are mostly identical files: 200 hosts with the same redis.conf parse it once,
    and the rules run once per document and set of runtime facts (``findings``).
    Documents in it are only read after the merge, so threads can share them.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], Any] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def settings(self, kind: str, path: str, content: bytes) -> dict[str, Any]:
        """The settings of a live file (templates may look at them), parsed once per content."""
        key = ("settings", kind, path, hashlib.sha256(content).hexdigest())
        return self._once(key, lambda: parse(kind, content, path).settings())  # type: ignore[no-any-return]

    def merged(
        self,
        spec: FileSpec,
        path: str,
        live: bytes | None,
        rendered: bytes,
        absent: tuple[str, ...] = (),
    ) -> Merged:
        key = (
            "merged",
            spec.kind,
            spec.strategy,
            path,
            spec.template,
            hashlib.sha256(live).hexdigest() if live is not None else "-",
            hashlib.sha256(rendered).hexdigest(),
            *absent,
        )
        return self._once(key, lambda: _merge(spec, path, live, rendered, absent))  # type: ignore[no-any-return]

    def findings(self, docs: Sequence[Document], facts: Any, compute: Callable[[], Any]) -> Any:
        """The rules' findings over ``docs`` (the cache's own documents) with ``facts``.

        Keyed by the documents' identity: every document here is held by a merge entry for
        the cache's lifetime, so an id is never reused for another document.
        """
        frozen = tuple(
            (name, tuple(sorted(value.items())) if isinstance(value, dict) else value)
            for name, value in vars(facts).items()
        )
        return self._once(("findings", *(str(id(d)) for d in docs), repr(frozen)), compute)

    def _once(self, key: tuple[str, ...], compute: Any) -> Any:
        """Compute each entry once: the other hosts' threads wait for it instead of redoing it."""
        found = self._entries.get(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._entries.get(key)
            if found is None:
                found = self._entries[key] = compute()
            return found


def _merge(
    spec: FileSpec, path: str, live: bytes | None, rendered: bytes, absent: tuple[str, ...] = ()
) -> Merged:
    desired_doc = parse(spec.kind, rendered, f"template {spec.template}")
    refuse_problems(desired_doc, f"template {spec.template}", "its output would be rejected")
    if live is not None:
        live_doc: Document | None = parse(spec.kind, live, path)
        assert live_doc is not None
        if live_doc.problems:
            bad = live_doc.problems[0]
            raise ParseError(
                f"refusing to edit a file the service would reject: {bad.reason}",
                path=path,
                line=bad.line,
            )
        base = live_doc
    else:
        live_doc, base = None, parse(spec.kind, b"", path)
    new_doc, changes = merge(base, desired_doc, spec.strategy)
    if absent:
        changes += remove_settings(new_doc, desired_doc, absent, spec)
    new_content = new_doc.dump()
    # the file as it would be written, read back the way its program reads it
    refuse_problems(parse(spec.kind, new_content, path), path, "refusing to write a file")
    secrets: list[str] = []
    for doc in (base, desired_doc, new_doc):  # values, and their spellings as written
        secrets += secrets_of(doc)
    return Merged(
        live_doc,
        desired_doc,
        new_doc,
        tuple(changes),
        new_content,
        unified_diff(path, live or b"", new_content),
        tuple(secrets),
        tuple(key for key, _ in desired_doc.managed_items()),
    )


def remove_settings(
    doc: Document, desired: Document, names: Sequence[str], spec: FileSpec
) -> list[Change]:
    """Remove each of ``names`` from ``doc`` (in place): one Change per setting it had.

    A name the template also sets is a playbook error: the file cannot both have and lack it."""
    managed = {key for key, _ in desired.managed_items()}
    changes: list[Change] = []
    for name in names:
        if name in managed or desired.current(name) is not ABSENT:
            raise PlaybookError(
                f"{name} is both set by template {spec.template} and listed in `absent:`",
                line=spec.line,
            )
        old = doc.current(name)
        edit = doc.remove(name)
        if edit is not None:
            changes.append(Change(doc.kind, name, old, ABSENT, None, edit.note))
    return changes


def refuse_problems(doc: Document, path: str, what: str) -> None:
    """Raise for the first line of ``doc`` its program would refuse or misread."""
    if doc.problems:
        bad = doc.problems[0]
        raise ParseError(f"{what} the service would reject: {bad.reason}", path=path, line=bad.line)


def plan_file(
    desired: DesiredFile, facts: HostFacts, masker: Masker, cache: MergeCache | None = None
) -> PlannedFile:
    """Merge the rendered template into the live file (or create it)."""
    spec = desired.spec
    fact = facts.files[desired.remote_path]
    if fact.error:
        raise ParseError(f"cannot read: {fact.error}", path=desired.remote_path)
    m = (cache or MergeCache()).merged(
        spec,
        desired.remote_path,
        fact.content if fact.exists else None,
        desired.rendered,
        desired.absent,
    )
    masker.add(m.secrets)
    setting_changes = tuple(_setting_change(spec, change, masker) for change in m.changes)
    needs_handler = any(c.effect != "live" for c in setting_changes)
    before = fact.content if fact.exists else b""
    changed = m.new_content != before or (not fact.exists and bool(m.new_content))
    plan = FilePlan(
        path=desired.remote_path,
        kind=spec.kind,
        strategy=spec.strategy,
        template=spec.template,
        exists=fact.exists,
        sha256_before=fact.sha256 if fact.exists else "",
        sha256_after=hashlib.sha256(m.new_content).hexdigest()
        if fact.exists or m.new_content
        else "",
        mode=fact.mode if fact.exists else (spec.mode or "0644"),
        owner=fact.owner if fact.exists else "root",
        group=fact.group if fact.exists else "root",
        changes=setting_changes if changed else (),
        handlers=tuple(spec.notify) if needs_handler and changed else (),
        diff=masker(m.raw_diff),
        validate=spec.validate,
        handler_commands=handler_commands(
            desired.handlers, spec.notify if needs_handler and changed else ()
        ),
    )
    return PlannedFile(plan, m.new_content, m.live_doc, m.new_doc, spec.live, m.managed)


def handler_commands(handlers: Mapping[str, Handler], names: Sequence[str]) -> tuple[str, ...]:
    """Exactly what the notified handlers run, for a saved plan to be checked against."""
    return tuple(
        f"{name}: {handlers[name].command}; check: {handlers[name].check or '-'}"
        for name in names
        if name in handlers
    )


def commands_changed(saved: FilePlan, now: FilePlan) -> str:
    """Why ``now`` would run other commands than the saved plan recorded ("" if it would not)."""
    if saved.validate != now.validate:
        return (
            f"{now.path}: its validate command changed since the plan was saved "
            f"(planned {saved.validate!r}, now {now.validate!r})"
        )
    if saved.handler_commands != now.handler_commands:
        return (
            f"{now.path}: the commands of its handlers changed since the plan was saved "
            f"(planned {list(saved.handler_commands)}, now {list(now.handler_commands)})"
        )
    return ""


def _setting_change(spec: FileSpec, change: Change, masker: Masker) -> SettingChange:
    secret = is_secret_setting(spec.kind, change.setting)
    old, new = (
        _display(change.old, secret, masker, spec.kind),
        _display(change.new, secret, masker, spec.kind),
    )
    effect, how = effect_of(spec, change.setting, removed=change.new is ABSENT)
    return SettingChange(
        change.setting, old, new, effect, how, change.lines, masker(change.note), secret
    )


def _display(value: Any, secret: bool, masker: Masker, kind: str = "") -> str:
    if value is ABSENT:
        return "(unset)"
    text = display_value(value, kind)
    return masked(text) if secret else masker(text)


def display_value(value: Any, kind: str = "") -> str:
    """A setting's value as a person reads it: Python source for celery, words elsewhere."""
    if isinstance(value, str) and kind != "celery":
        return value
    if kind == "celery":
        from remediate.formats.celery_values import render

        try:
            return render(value)
        except TypeError:
            return str(value)
    if isinstance(value, list | tuple):
        return "; ".join(display_value(v) for v in value)
    return str(value)


def runtime_changes(
    files: Iterable[PlannedFile], facts: HostFacts
) -> tuple[tuple[RuntimeChange, ...], tuple[RuntimeChange, ...]]:
    """(live values to set, drift between file and running server) for Redis: only from
    values read back from the instance that runs from each file, never assumed."""
    to_set: list[RuntimeChange] = []
    drift: list[RuntimeChange] = []
    for planned in files:
        redis = facts.redis_for(planned.plan.path) if planned.plan.kind == "redis" else None
        if redis is None or not redis.read:
            continue
        desired = planned.new_doc.settings()
        current = planned.live_doc.settings() if planned.live_doc else {}
        checked = set(planned.managed) | DRIFT_CHECKED
        for name, live_value in sorted(redis.config.items()):
            if name not in REDIS_LIVE or name not in checked:
                continue
            want = desired.get(name, ABSENT)
            have = current.get(name, ABSENT)
            if have is not ABSENT and not planned.new_doc.same(name, have, live_value):
                drift.append(
                    RuntimeChange("redis", name, live_value, _plain(have), planned.plan.path)
                )
            if (
                planned.live
                and name in planned.managed
                and want is not ABSENT
                and not planned.new_doc.same(name, want, live_value)
            ):
                to_set.append(
                    RuntimeChange("redis", name, live_value, _plain(want), planned.plan.path)
                )
    return tuple(to_set), tuple(drift)


def pending_live(files: Iterable[PlannedFile], facts: HostFacts) -> dict[str, list[str]]:
    """Per file with ``live: true`` whose instance could not be read: the live-settable
    settings it manages (whether the running server needs them set is unknown)."""
    out = {}
    for planned in files:
        redis = facts.redis_for(planned.plan.path) if planned.plan.kind == "redis" else None
        if redis is None or not planned.live or not redis.live_state.startswith("unknown"):
            continue
        names = sorted(n for n in planned.managed if n.lower() in REDIS_LIVE)
        if names:
            out[planned.plan.path] = names
    return out


def _plain(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else " ".join(" ".join(v) if isinstance(v, tuple) else str(v) for v in value)
    )


def unified_diff(path: str, before: bytes, after: bytes) -> str:
    if before == after:
        return ""
    a = before.decode("utf-8", "replace").splitlines(keepends=True)
    b = after.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, f"{path} (live)", f"{path} (planned)", n=1)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def host_plan(
    name: str, address: str, files: list[PlannedFile], facts: HostFacts, masker: Masker
) -> HostPlan:
    to_set, drift = runtime_changes(files, facts)
    to_set = tuple(_mask_runtime(c, masker) for c in to_set)
    drift = tuple(_mask_runtime(c, masker) for c in drift)
    summary = facts_summary(facts)
    pending = pending_live(files, facts)
    if pending and "redis" in summary:
        summary["redis"]["pending"] = pending
    return HostPlan(name, address, tuple(f.plan for f in files), to_set, drift, summary)


def _mask_runtime(change: RuntimeChange, masker: Masker) -> RuntimeChange:
    if is_secret_setting(change.service, change.setting):
        return RuntimeChange(
            change.service,
            change.setting,
            masked(change.live),
            masked(change.desired),
            change.source,
        )
    return RuntimeChange(
        change.service, change.setting, masker(change.live), masker(change.desired), change.source
    )


def facts_summary(facts: HostFacts) -> dict[str, Any]:
    """Runtime facts as plain data for reports (secrets never gathered into it)."""
    out: dict[str, Any] = {}
    if facts.redis is not None:
        limit = facts.process_limit("redis-server")
        out["redis"] = {
            **_redis_summary(facts.redis),
            "nofile_soft": limit.soft if limit else None,
            "nofile_hard": limit.hard if limit else None,
        }
        if len(facts.redis_by_file) > 1:
            out["redis"]["instances"] = {
                path: _redis_summary(r) for path, r in sorted(facts.redis_by_file.items())
            }
    if facts.rabbitmq is not None:
        q = facts.rabbitmq
        limit = facts.process_limit("beam.smp")
        out["rabbitmq"] = {
            "state": q.live_state,
            "running": q.running,
            "heartbeat": q.heartbeat,
            "pid": q.pid,
            "version": q.version,
            "error": q.error,
            "nofile_soft": limit.soft if limit else None,
            "nofile_hard": limit.hard if limit else None,
        }
    if facts.processes:
        out["processes"] = [
            {
                "pid": p.pid,
                "name": p.name,
                "uid": p.uid,
                "exe": p.exe,
                "argv": [mask_urls(a) for a in p.argv],
                "cwd": p.cwd,
                "listeners": [str(lst) for lst in p.listeners],
            }
            for p in facts.processes
        ]
    if facts.workers is not None:
        from remediate.plan.host_facts import worker_summary

        out["workers"] = [worker_summary(w) for w in facts.workers]
    return out


def _redis_summary(r: Any) -> dict[str, Any]:
    return {
        "state": r.live_state,
        "running": r.running,
        "ping": r.ping,
        "error": r.error,
        "pid": r.pid,
        "config_file": r.config_file,
        "version": r.version,
        "used_memory": r.used_memory,
        "listener": f"{r.address}:{r.port}" if r.address else "",
        "connected_clients": r.connected_clients,
        "maxclients": r.maxclients,
        "config": {k: v for k, v in sorted(r.config.items()) if not is_secret_setting("redis", k)},
    }


def redis_instances(facts: HostFacts) -> tuple[RedisInstance, ...]:
    """Every running redis-server with the file it runs from, as INFO server said (an
    instance that did not answer INFO carries the reason instead)."""
    out = []
    for process in facts.running("redis-server"):
        said = facts.redis_instances.get(process.pid)
        listener = process.connect_listener()
        where = f"{said.address}:{said.port}" if said and said.address else str(listener or "")
        if said is not None and said.version:  # INFO server answered
            out.append(RedisInstance(process.pid, where, said.config_file))
        else:
            reason = (said.error if said else "") or "not asked: no managed redis.conf on the host"
            out.append(RedisInstance(process.pid, where, error=reason))
    return tuple(out)


def host_findings(
    planned: Sequence[PlannedFile],
    facts: HostFacts,
    variables: Mapping[str, Any],
    masker: Masker,
    cache: MergeCache | None = None,
) -> tuple[Any, ...]:
    """The domain rules over the host's live files, with its runtime facts (secrets masked).

    With ``cache`` (whose merges made ``planned``), hosts with the same documents and facts
    share one run of the rules."""
    from dataclasses import replace

    from remediate.plan.host_facts import rule_facts
    from remediate.rules import Facts, check, check_together

    redis_limit = facts.process_limit("redis-server")
    beam_limit = facts.process_limit("beam.smp")
    running = facts.redis is not None and facts.redis.read
    base = Facts(
        celery_version=str(variables["celery_version"])
        if variables.get("celery_version")
        else None,
        redis_live=dict(facts.redis.config) if running and facts.redis else None,
        redis_nofile_hard=redis_limit.hard if redis_limit else None,
        beam_nofile_soft=beam_limit.soft if beam_limit else None,
        rabbitmq_live_heartbeat=facts.rabbitmq.heartbeat
        if facts.rabbitmq and facts.rabbitmq.running
        else None,
        rabbitmq_running=(
            facts.rabbitmq.running
            if facts.rabbitmq and not facts.rabbitmq.live_state.startswith("unknown")
            else None
        ),
        **rule_facts(facts, variables),
    )
    base = replace(
        base,
        redis_instances=redis_instances(facts)
        if any(p.plan.kind == "redis" for p in planned)
        or any(kind == "redis" for kind, _ in facts.unmatched)
        else None,
        unmatched_paths=tuple(pattern for _, pattern in facts.unmatched),
    )
    docs = [(p, p.live_doc) for p in planned if p.live_doc is not None]
    findings: list[Any] = []
    for p, doc in docs:
        with_mode = replace(base, file_mode=p.plan.mode or None)
        findings += (
            cache.findings([doc], with_mode, functools.partial(check, doc, with_mode))
            if cache
            else check(doc, with_mode)
        )
    together = [doc for _, doc in docs]
    findings += (
        cache.findings(together, base, lambda: check_together(together, base))
        if cache
        else check_together(together, base)
    )
    return tuple(replace(f, message=masker(f.message), fix=masker(f.fix)) for f in findings)
