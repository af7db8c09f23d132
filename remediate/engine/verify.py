"""``remediate verify`` on one host, and on a fleet: a canary worker with the app's own
interpreter and connection settings idles over the real network path, then a fresh producer on
the same host publishes one task; the host passes when the canary runs it within the budget.

Everything the canary needs lives in a private temp dir (mktemp -d, 0700; files 0600 written
from stdin). The worker runs under a session script held open by the SSH connection
(:data:`remediate.remote.canary_host.SESSION_SCRIPT`): a lost controller stops it, deletes its
queue on the broker and removes the directory. On the normal path the controller does the same
itself and then checks that nothing is left.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.engine.verify_observer import BrokerObserver
from remediate.errors import CommandFailed, RemediateError
from remediate.formats import parse
from remediate.model.facts import FileFact
from remediate.model.outcomes import HostOutcome, Progress
from remediate.model.secrets import Masker, secret_vars
from remediate.model.verify import HostVerify
from remediate.model.workers import WorkerFact
from remediate.plan.app_worker import ConfigNotFound, app_worker, locate_config, worker_interpreter
from remediate.plan.canary import CONFIG_MODULE, canary_files
from remediate.plan.verify_settings import (
    default_budget,
    default_idle,
    likely_cause,
    options_in_force,
)
from remediate.playbook.targets import HostTarget
from remediate.remote import canary_host as ch
from remediate.remote.connection import Connection, ConnectOptions
from remediate.remote.gather import gather
from remediate.remote.worker_facts import parse_worker_probe
from remediate.remote.worker_probe import WORKER_PROBE

#: why a host is skipped: it manages no Celery file and runs no worker whose config to use
NO_APP = "manages no Celery file and runs no celery worker"
#: seconds a canary may take to say it is ready
READY_SECONDS = 60.0
SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class VerifyOptions:
    idle: float | None = None  # --idle (default: above the largest known idle limit)
    budget: float | None = None  # --budget (default: from the settings in force)
    run: str = ""


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def celery_file(target: HostTarget) -> str | None:
    """The host's managed Celery configuration file, if it manages one."""
    return next((m.remote_path for m in target.files if m.spec.kind == "celery"), None)


def _interpreter(target: HostTarget, workers: Sequence[str]) -> str:
    """The host variable ``celery_python``, else the interpreter of a running worker."""
    chosen = target.variables.get("celery_python")
    if chosen:
        return str(chosen)
    if workers:
        return workers[0]
    raise CommandFailed(
        "no interpreter for the canary: set the host variable celery_python, or run a "
        "celery worker on the host for verify to find",
        host=target.host.name,
    )


class _Host:
    """One host's verify: every remote step over one connection."""

    def __init__(
        self, conn: Connection, target: HostTarget, options: VerifyOptions, stop: threading.Event
    ) -> None:
        self.conn = conn
        self.target = target
        self.options = options
        self.stop = stop
        self.name = target.host.name
        self.masker = Masker(secret_vars(target.variables))
        self.directory = ""
        self.python = ""
        self.left: tuple[str, ...] = ()
        self.timeout = max(conn.options.timeout, 30.0) if hasattr(conn, "options") else 30.0

    # -- small remote steps -------------------------------------------------------------
    def sh(self, script: str, *args: str, stdin: bytes = b"", timeout: float | None = None) -> Any:
        return self.conn.run(
            ["sh", "-c", script, "remediate-verify", *args],
            stdin=stdin,
            timeout=timeout or self.timeout,
        )

    def tool(self, *args: str, timeout: float | None = None) -> Any:
        return self.sh(
            'cd "$1" && shift && exec "$@"',
            self.directory,
            self.python,
            f"{ch.TOOL_MODULE}.py",
            *args,
            timeout=timeout,
        )

    def tool_json(self, *args: str, timeout: float | None = None) -> Any:
        result = self.tool(*args, timeout=timeout)
        if not result.ok:
            raise CommandFailed(
                f"canary helper {args[0]} failed: {self._tail(result.stderr)}", host=self.name
            )
        try:
            return ch.parse_json(result.stdout, args[0])
        except ValueError as exc:
            raise CommandFailed(f"canary helper {args[0]}: {exc}", host=self.name) from None

    def _tail(self, data: bytes, lines: int = 3) -> str:
        text = data.decode("utf-8", "replace").strip().splitlines()[-lines:]
        return self.masker(" | ".join(x.strip() for x in text)) or "no output"

    # -- the run ----------------------------------------------------------------------------
    def verify(self) -> HostVerify:
        managed = celery_file(self.target)
        paths = [managed] if managed else []
        reply = gather(self.conn, paths, {"workers": WORKER_PROBE}, timeout=self.timeout)
        worker = app_worker(parse_worker_probe(reply.probes["workers"].output), managed)
        fact = reply.files[managed] if managed else self._discovered_config(worker)
        path = fact.path
        if not fact.exists or not fact.readable:
            raise CommandFailed(f"{path}: {fact.error or 'no such file'}", host=self.name)
        self.python = _interpreter(self.target, [worker_interpreter(worker)] if worker else [])
        files = canary_files(
            parse("celery", fact.content, path=path),
            self.options.run,
            worker_pool=worker.pool if worker else None,
        )
        self.masker.add(files.secrets)
        config = files.config_source + ch.client_name_line(self.options.run)
        prepared = self.sh(ch.PREPARE_SCRIPT)
        self.directory = prepared.stdout.decode().strip()
        if not prepared.ok or not self.directory.startswith("/"):
            raise CommandFailed(f"mktemp -d failed: {self._tail(prepared.stderr)}", host=self.name)
        sources = {
            **files.sources(),
            f"{CONFIG_MODULE}.py": config,
            f"{ch.TOOL_MODULE}.py": ch.TOOL_SOURCE,
        }
        for name, text in sources.items():
            written = self.sh(ch.WRITE_SCRIPT, f"{self.directory}/{name}", stdin=text.encode())
            if not written.ok:
                raise CommandFailed(
                    f"cannot write {name}: {self._tail(written.stderr)}", host=self.name
                )
        settings = self.tool_json("describe", timeout=60)
        password = str(settings.pop("password", "") or "")
        self.masker.add([password])
        base = HostVerify(
            self.name,
            self.target.host.address,
            passed=False,
            config_path=path,
            interpreter=self.python,
            versions={k: v for k, v in (settings.get("versions") or {}).items() if v},
            options={k: self.masker(v) for k, v in options_in_force(settings).items()},
        )
        observer = BrokerObserver(self, settings, password)
        limits = [float(self.target.variables.get("remediate_path_idle_timeout") or 0)]
        limits.append(observer.redis_timeout())
        known = [x for x in limits if x > 0]
        idle_limit = max(known) if known else None
        idle = self.options.idle if self.options.idle is not None else default_idle(known)
        budget = (
            self.options.budget if self.options.budget is not None else default_budget(settings)
        )
        base = dataclasses.replace(
            base, idle_seconds=idle, idle_limit=idle_limit, budget_seconds=budget
        )
        held = None
        pid = 0
        try:
            observer.baseline()
            held = self.conn.hold(
                [
                    "sh",
                    "-c",
                    ch.SESSION_SCRIPT,
                    "remediate-canary",
                    self.directory,
                    self.python,
                    *files.worker_args(),
                ],
                timeout=self.timeout,
            )
            pid = held.pid
            self._wait_ready(pid)
            observer.pid = pid
            ended = time.monotonic() + idle
            middle = time.monotonic() + idle / 2
            sockets_seen = False
            while not self.stop.is_set():
                left = ended - time.monotonic()
                if left <= 0:
                    break
                observer.sample()
                if not sockets_seen and time.monotonic() >= middle:
                    observer.sockets()
                    sockets_seen = True
                self.stop.wait(min(SAMPLE_SECONDS, max(left, 0)))
            if self.stop.is_set():
                return dataclasses.replace(
                    base, interrupted=True, cause="interrupted", broker=observer.view()
                )
            if not sockets_seen:
                observer.sockets()
            return self._prove(base, observer, files.token, budget, settings, idle_limit)
        finally:
            self.left = self._cleanup(held, pid)

    def _discovered_config(self, worker: WorkerFact | None) -> FileFact:
        """No managed Celery file: the running worker's own configuration module."""
        if worker is None:
            raise CommandFailed(NO_APP)

        def read(paths: Sequence[str]) -> Mapping[str, FileFact]:
            return gather(self.conn, list(paths), timeout=self.timeout).files

        try:
            return locate_config(worker, read)
        except ConfigNotFound as exc:
            raise CommandFailed(f"no managed Celery file, and {exc}", host=self.name) from None

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and not self.stop.is_set():
            check = self.sh(
                'grep -q " ready\\." "$1/' + ch.WORKER_LOG + '" 2>/dev/null && echo ready; '
                'kill -0 "$2" 2>/dev/null || echo gone',
                self.directory,
                str(pid),
            )
            said = check.stdout.decode()
            if "ready" in said:
                return
            if "gone" in said:
                out = self.sh(
                    'tail -n 5 "$1/worker.out" "$1/' + ch.WORKER_LOG + '" 2>/dev/null',
                    self.directory,
                )
                raise CommandFailed(
                    f"the canary worker exited: {self._tail(out.stdout, 5)}", host=self.name
                )
            time.sleep(0.3)
        if not self.stop.is_set():
            raise CommandFailed(
                f"the canary worker was not ready within {READY_SECONDS:g} s", host=self.name
            )

    def _prove(
        self,
        base: HostVerify,
        observer: BrokerObserver,
        token: str,
        budget: float,
        settings: dict[str, Any],
        idle_limit: float | None,
    ) -> HostVerify:
        nonce = uuid.uuid4().hex[:12]
        started = time.monotonic()
        task_id = ""
        publish_error = ""
        since = time.time()
        try:
            published = self.tool("publish", nonce, timeout=budget)
        except CommandFailed:
            published = None
            publish_error = f"publish timed out after {budget:g} s"
        try:
            if published is None:
                raise ValueError(publish_error)
            info = ch.parse_json(published.stdout, "publish") if published.ok else {}
            task_id, since = str(info["id"]), float(info["started"])
        except (ValueError, KeyError, TypeError):
            if published is not None:
                publish_error = f"publish failed: {self._tail(published.stderr)}"
        consumed: float | None = None
        while task_id and not self.stop.is_set() and time.monotonic() - started < budget:
            seen = self.sh(
                'grep -qF -- "$2" "$1/' + ch.WORKER_LOG + '" && echo yes',
                self.directory,
                f"[{task_id}] succeeded in",
            )
            if b"yes" in seen.stdout and self._returned(f"{token}:{nonce}"):
                consumed = round(time.monotonic() - started, 2)
                break
            time.sleep(0.3)
        events = self.tool_json("events", f"{since}", task_id) if task_id else []
        lines = tuple(f"{float(e['at']):+.1f} s {self.masker(str(e['what']))}" for e in events)
        logged = [float(e["at"]) for e in events if e.get("what") == "consumed"]
        if consumed is not None and logged:  # from the publish to the task, on the host's clock
            consumed = round(max(logged[0], 0.0), 2)
        view = observer.view()
        result = dataclasses.replace(
            base,
            passed=consumed is not None,
            broker=view,
            published=bool(task_id),
            publish_error=publish_error,
            consume_seconds=consumed,
            events=lines,
        )
        if consumed is None:
            cause, rules = likely_cause(
                settings,
                idle_limit=idle_limit,
                canary_idle=view.max_idle,
                events=events,
                published=bool(task_id),
            )
            if self.stop.is_set():
                cause = "interrupted"
            result = dataclasses.replace(result, cause=self.masker(cause), rules=rules)
        return result

    def _returned(self, value: str) -> bool:
        """The canary's log shows the task returned ``value`` (its token and our nonce)."""
        found = self.sh(
            'grep -qF -- "$2" "$1/' + ch.WORKER_LOG + '" && echo yes', self.directory, value
        )
        return b"yes" in found.stdout

    def _cleanup(self, held: Any, pid: int) -> tuple[str, ...]:
        """Stop the worker, delete its queue, end the session (which removes the directory),
        then look: what is left is reported."""
        left: list[str] = []
        if not self.directory:
            return ()
        try:
            if pid:
                self.sh(ch.STOP_SCRIPT, str(pid), timeout=ch.STOP_SECONDS + 15)
            cleaned = self.tool("cleanup", timeout=60)
            if cleaned.ok:
                left += [
                    f"broker key {k}" for k in ch.parse_json(cleaned.stdout, "cleanup")["remains"]
                ]
            else:
                left.append(f"queue not deleted: {self._tail(cleaned.stderr)}")
        except (RemediateError, ValueError, KeyError) as exc:
            left.append(f"cleanup: {self.masker(str(exc))}")
        finally:
            if held is not None:
                held.release()
            else:
                self.sh('rm -rf -- "$1"', self.directory)
            after = self.sh(ch.LEFTOVERS_SCRIPT, str(pid or ""), self.directory)
            left += [x for x in after.stdout.decode().splitlines() if x.strip()]
        return tuple(dict.fromkeys(left))


def verify_host(
    conn: Connection, target: HostTarget, options: VerifyOptions, stop: threading.Event
) -> HostVerify:
    host = _Host(conn, target, options, stop)
    result = host.verify()
    return dataclasses.replace(result, cleanup=host.left) if host.left else result


def verify_fleet(
    targets: Sequence[HostTarget],
    options: VerifyOptions,
    connect: ConnectOptions,
    forks: int,
    progress: Callable[[Progress], None] | None = None,
) -> list[HostOutcome[HostVerify]]:
    """Every target in parallel. Ctrl-C stops every canary (each host cleans up) and then
    raises KeyboardInterrupt."""
    from remediate.engine.fanout import fan_out

    stop = threading.Event()
    found: list[list[HostOutcome[HostVerify]]] = []

    def run() -> None:
        found.append(
            fan_out(
                targets,
                lambda conn, target: verify_host(conn, target, options, stop),
                connect,
                forks,
                progress,
            )
        )

    worker = threading.Thread(target=run, name="remediate-verify", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        worker.join()
        raise
    return found[0] if found else []
