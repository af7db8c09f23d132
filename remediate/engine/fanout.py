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
from dataclasses import dataclass
from typing import Generic, TypeVar

from remediate.errors import ConnectionFailed, RemediateError
from remediate.remote.connection import Connection, ConnectOptions, HostLike, connect

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    """What happened on one host: a value, or why there is none."""

    host: str
    value: T | None = None
    unreachable: str = ""  # could not connect / authenticate / timed out
    failed: str = ""  # connected, but the work failed
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unreachable and not self.failed


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    failures: int


def run_on_hosts(hosts: Sequence[HostLike], work: Callable[[Connection], T], options: ConnectOptions,
                 forks: int = 50, progress: Callable[[Progress], None] | None = None,
                 warm: Sequence[str] = ()) -> list[HostOutcome[T]]:
    """Run ``work(connection)`` on every host, ``forks`` at a time; results in host order.

    ``warm`` names modules the work will need: they are imported in the background while
    the connections are being opened, instead of by the first host thread while every
    other one waits on the import lock.
    """
    outcomes: dict[str, HostOutcome[T]] = {}
    if not hosts:
        return []
    if any(host.connection != "local" for host in hosts):
        import paramiko  # noqa: F401  (every SSH connection needs it first)
    if warm:
        threading.Thread(target=_import_all, args=(tuple(warm),), daemon=True).start()
    failures = 0
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts)))) as pool:
        futures = {pool.submit(_run_one, host, work, options): host.name for host in hosts}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.host] = outcome
            failures += not outcome.ok
            if progress:
                progress(Progress(len(outcomes), len(hosts), failures))
    return [outcomes[host.name] for host in hosts]


def _import_all(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:  # the host thread that needs it reports the error
            pass


def _run_one(host: HostLike, work: Callable[[Connection], T], options: ConnectOptions) -> HostOutcome[T]:
    start = time.monotonic()
    conn = connect(host, options)
    try:
        value = work(conn)
        return HostOutcome(host.name, value=value, elapsed=time.monotonic() - start)
    except ConnectionFailed as exc:
        return HostOutcome(host.name, unreachable=exc.message, elapsed=time.monotonic() - start)
    except RemediateError as exc:
        return HostOutcome(host.name, failed=str(exc), elapsed=time.monotonic() - start)
    except Exception as exc:  # a bug on one host must not stop the fleet
        log.debug("unexpected error on %s", host.name, exc_info=True)
        return HostOutcome(host.name, failed=f"internal error: {type(exc).__name__}: {exc}",
                           elapsed=time.monotonic() - start)
    finally:
        conn.close()
