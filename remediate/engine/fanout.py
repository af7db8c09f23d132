"""Run one function per host, in parallel, over one connection per host.

Partial failure is data: a host that is unreachable, refuses auth or times out
becomes a ``HostOutcome`` with a reason; the other hosts carry on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from remediate.errors import ConnectionFailed, RemediateError
from remediate.model.outcomes import HostOutcome, Progress
from remediate.remote.connection import Connection, ConnectOptions, HostLike, connect

T = TypeVar("T")
I = TypeVar("I")
log = logging.getLogger(__name__)


def fan_out(
    items: Sequence[I],
    work: Callable[[Connection, I], T],
    options: ConnectOptions,
    forks: int = 50,
    progress: Callable[[Progress], None] | None = None,
    warm: Sequence[str] = (),
    host_of: Callable[[I], HostLike] | None = None,
) -> list[HostOutcome[T]]:
    """Run ``work(connection, item)`` for every item, ``forks`` at a time; results in item order.

    Each worker is handed its own item (a target, a host): nothing is looked up by name.
    ``host_of`` says which host an item is (default: its ``host`` attribute). ``warm`` names
    modules the work will need: they are imported in the background while the connections
    are being opened, instead of by the first host thread while every other one waits on the
    import lock.
    """
    if not items:
        return []
    hosts = [host_of(item) if host_of else item.host for item in items]  # type: ignore[attr-defined]
    if any(_maybe_ssh(host) for host in hosts):
        import paramiko  # noqa: F401  (every SSH connection needs it first)
    if warm:
        threading.Thread(target=_import_all, args=(tuple(warm),), daemon=True).start()
    outcomes: list[HostOutcome[T] | None] = [None] * len(items)
    failures = done = 0
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(items)))) as pool:
        futures = {
            pool.submit(_run_one, host, item, work, options): index
            for index, (host, item) in enumerate(zip(hosts, items))
        }
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            done += 1
            failures += not outcome.ok
            if progress:
                progress(Progress(done, len(items), failures))
    return [o for o in outcomes if o is not None]


def run_on_hosts(
    hosts: Sequence[HostLike],
    work: Callable[[Connection], T],
    options: ConnectOptions,
    forks: int = 50,
    progress: Callable[[Progress], None] | None = None,
    warm: Sequence[str] = (),
) -> list[HostOutcome[T]]:
    """``fan_out`` over bare hosts, for work that needs only the connection."""
    return fan_out(
        hosts,
        lambda conn, _host: work(conn),
        options,
        forks,
        progress,
        warm,
        host_of=lambda host: host,
    )


def _maybe_ssh(host: HostLike) -> bool:
    """Whether ``host`` may need paramiko (a host whose connection is unsupported fails alone,
    in its own worker, not here for the whole fleet)."""
    try:
        return host.connection != "local"
    except RemediateError:
        return False


def _import_all(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:  # the host thread that needs it reports the error
            pass


def _run_one(
    host: HostLike, item: I, work: Callable[[Connection, I], T], options: ConnectOptions
) -> HostOutcome[T]:
    start = time.monotonic()
    conn: Connection | None = None
    try:
        conn = connect(host, options)
        value = work(conn, item)
        log.debug("%s: done in %.3f s", host.name, time.monotonic() - start)
        return HostOutcome(host.name, value=value, elapsed=time.monotonic() - start)
    except ConnectionFailed as exc:
        log.debug("%s: unreachable: %s", host.name, exc.message)
        return HostOutcome(host.name, unreachable=exc.message, elapsed=time.monotonic() - start)
    except RemediateError as exc:
        log.debug("%s: failed: %s", host.name, exc)
        return HostOutcome(host.name, failed=str(exc), elapsed=time.monotonic() - start)
    except Exception as exc:  # a bug on one host must not stop the fleet
        log.debug("unexpected error on %s", host.name, exc_info=True)
        return HostOutcome(
            host.name,
            failed=f"internal error: {type(exc).__name__}: {exc}",
            elapsed=time.monotonic() - start,
        )
    finally:
        if conn is not None:
            conn.close()
