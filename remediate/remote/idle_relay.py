"""A TCP relay that forgets idle flows, like a NAT or load balancer with an idle timeout.

Each connection accepted on a loopback address is forwarded to one target host:port. A flow
that carried no byte in either direction for longer than ``idle_seconds`` *goes dark*: the
relay stops forwarding it without telling anyone (no FIN, no RST to either side). Later bytes
from either side are read and thrown away, so requests and replies vanish both ways, and each
socket stays open until its own peer closes it or the relay stops. That is what a client sees
behind a middlebox whose flow table dropped its entry: writes succeed, replies never come.

Only data resets the idle clock. TCP keepalive probes carry no data and are answered by the
kernel under the relay's sockets, never reaching this userspace loop, so a flow kept "alive"
by keepalive alone still goes dark, exactly as behind HAProxy (``timeout client/server``) or
a cloud load balancer that counts only data. Application traffic (the Redis transport's
``health_check_interval`` PING, AMQP heartbeats) keeps a flow open.

    with IdleRelay(("127.0.0.1", 0), ("127.0.0.1", 6379), idle_seconds=5) as relay:
        host, port = relay.address          # point the client here
        ...
        relay.stats().dropped_flows

The relay connects only to the target it is given, listens only on loopback, and never
outlives ``max_seconds`` when one is set. One thread runs one ``selectors`` loop.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from remediate.errors import RemediateError, UsageError

log = logging.getLogger("remediate.relay")

#: bytes read from one side and not yet written to the other before the relay stops reading
BUFFER_LIMIT = 256 * 1024
#: how long a non-blocking connect to the target may take before the flow is given up
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class RelayEvent:
    """One thing that happened to the relay or to one flow (``flow`` 0 is the relay itself)."""

    kind: str  # listening, opened, dark, closed, connect-failed, stopped
    flow: int
    message: str
    at: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return self.message if self.flow == 0 else f"flow {self.flow}: {self.message}"


@dataclass(frozen=True)
class RelayStats:
    """Counters for tests and for the operator's summary line."""

    connections: int  # accepted, ever
    open_flows: int  # with at least one socket still open
    dark_flows: int  # open and dark
    dropped_flows: int  # went dark, ever
    bytes_forwarded: int
    bytes_discarded: int  # read from a dark flow and thrown away


class RelayError(RemediateError):
    """The relay could not start (address in use, bad address)."""


def parse_endpoint(text: str, *, what: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` as a (host, port) pair; a UsageError names ``what``."""
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{what} {text!r}: expected HOST:PORT (e.g. 127.0.0.1:6379)")
    return host, int(port_text)


def require_loopback(host: str) -> None:
    """The relay listens on loopback only: a flow-dropping port is for rehearsals and tests."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UsageError(
            f"--listen {host}: the relay listens on a loopback address only "
            "(127.0.0.0/8, ::1 or localhost)"
        )


class _Flow:
    """One accepted connection and its upstream: two sockets, two buffers, one idle clock."""

    def __init__(
        self, number: int, client: socket.socket, upstream: socket.socket, now: float
    ) -> None:
        self.number = number
        self.client: socket.socket | None = client
        self.upstream: socket.socket | None = upstream
        self.connecting = True
        self.dark = False
        self.opened_at = now
        self.last_data = now
        # pending[s] holds bytes waiting to be written to socket s; eof[s]: s's peer sent FIN
        self.pending: dict[socket.socket, bytearray] = {client: bytearray(), upstream: bytearray()}
        self.eof: dict[socket.socket, bool] = {client: False, upstream: False}

    def other(self, sock: socket.socket) -> socket.socket | None:
        return self.upstream if sock is self.client else self.client

    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.client, self.upstream) if s is not None]


class IdleRelay:
    """Forward ``listen`` → ``target``; a flow idle longer than ``idle_seconds`` goes dark."""

    def __init__(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        idle_seconds: float,
        *,
        max_seconds: float | None = None,
        on_event: Callable[[RelayEvent], None] | None = None,
    ) -> None:
        if idle_seconds <= 0:
            raise UsageError(f"--idle {idle_seconds}: must be more than 0 seconds")
        if max_seconds is not None and max_seconds <= 0:
            raise UsageError(f"--max-seconds {max_seconds}: must be more than 0 seconds")
        require_loopback(listen[0])
        self.target = target
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._events: deque[RelayEvent] = deque(maxlen=10_000)
        self._on_event = on_event
        self._listen_at = listen
        self._listener: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._flows: dict[socket.socket, _Flow] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counts = {"connections": 0, "dropped": 0, "forwarded": 0, "discarded": 0}
        self._started_at = 0.0
        self._target_family = socket.AF_INET
        self._target_address: tuple[Any, ...] = target

    # -- life cycle ----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The listening (host, port): the real port when 0 was asked for."""
        if self._listener is None:
            raise RuntimeError("the relay is not started")
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self) -> Self:
        """Bind, listen and run the loop in a background thread."""
        try:  # resolved once: every flow goes to this one address
            found = socket.getaddrinfo(*self.target, type=socket.SOCK_STREAM)
        except OSError as exc:
            self._discard()
            raise RelayError(f"cannot resolve the target {self._target_text()}: {exc}") from exc
        self._target_family, self._target_address = found[0][0], found[0][4]
        family = socket.AF_INET6 if ":" in self._listen_at[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(self._listen_at)
        except OSError as exc:
            listener.close()
            self._discard()
            host, port = self._listen_at
            raise RelayError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._started_at = time.monotonic()
        host, port = self.address
        limit = f", for at most {self.max_seconds:g} s" if self.max_seconds else ""
        self._emit(
            "listening",
            0,
            f"listening on {host}:{port}, forwarding to "
            f"{self.target[0]}:{self.target[1]}, dropping flows idle over "
            f"{self.idle_seconds:g} s{limit}",
        )
        self._thread = threading.Thread(target=self._run, name="idle-relay", daemon=True)
        self._thread.start()
        return self

    def _discard(self) -> None:
        """Release what __init__ made, when start() fails."""
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket and end the loop (waits up to ``timeout`` s); safe to call twice."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the relay has stopped (``max_seconds`` or ``stop()``); True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def events(self) -> tuple[RelayEvent, ...]:
        """What happened so far, oldest first (the last 10,000 events)."""
        with self._lock:
            return tuple(self._events)

    def stats(self) -> RelayStats:
        with self._lock:
            flows = {id(f): f for f in self._flows.values()}.values()
            return RelayStats(
                connections=self._counts["connections"],
                open_flows=len(flows),
                dark_flows=sum(1 for f in flows if f.dark),
                dropped_flows=self._counts["dropped"],
                bytes_forwarded=self._counts["forwarded"],
                bytes_discarded=self._counts["discarded"],
            )

    # -- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        reason = "stopped"
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.max_seconds is not None and now - self._started_at >= self.max_seconds:
                    reason = f"stopped after --max-seconds {self.max_seconds:g}"
                    break
                self._expire(now)
                for key, mask in self._selector.select(self._next_timeout(now)):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._wake_r.recv(4096)
                    else:
                        self._service(key.fileobj, mask)  # type: ignore[arg-type]
        except Exception as exc:  # a bug: report it, then still close everything
            log.exception("relay loop failed")
            reason = f"stopped on an internal error: {type(exc).__name__}: {exc}"
        finally:
            self._shutdown(reason)

    def _next_timeout(self, now: float) -> float:
        wake = [now + 1.0]
        with self._lock:
            for flow in self._flows.values():
                if flow.connecting:
                    wake.append(flow.opened_at + CONNECT_SECONDS)
                elif not flow.dark:
                    wake.append(flow.last_data + self.idle_seconds)
        if self.max_seconds is not None:
            wake.append(self._started_at + self.max_seconds)
        return max(0.0, min(wake) - now + 0.001)

    def _expire(self, now: float) -> None:
        for flow in list({id(f): f for f in self._flows.values()}.values()):
            if flow.connecting and now - flow.opened_at >= CONNECT_SECONDS:
                self._close_flow(
                    flow,
                    f"could not reach {self._target_text()} within {CONNECT_SECONDS:g} s",
                    kind="connect-failed",
                )
            elif not flow.connecting and not flow.dark and now - flow.last_data > self.idle_seconds:
                self._go_dark(flow, now)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        client.setblocking(False)
        upstream = socket.socket(self._target_family, socket.SOCK_STREAM)
        upstream.setblocking(False)
        now = time.monotonic()
        with self._lock:
            self._counts["connections"] += 1
            flow = _Flow(self._counts["connections"], client, upstream, now)
        code = upstream.connect_ex(self._target_address)  # only ever the target given
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            client.close()
            upstream.close()
            self._emit(
                "connect-failed",
                flow.number,
                f"from {peer[0]}:{peer[1]}: cannot connect "
                f"to {self._target_text()}: {errno.errorcode.get(code, code)}",
            )
            return
        with self._lock:
            self._flows[client] = flow
            self._flows[upstream] = flow
        # the client's bytes wait in its socket until the upstream connect completes
        self._selector.register(upstream, selectors.EVENT_WRITE, flow)
        self._emit("opened", flow.number, f"opened from {peer[0]}:{peer[1]}")

    def _service(self, sock: socket.socket, mask: int) -> None:
        flow = self._flows.get(sock)
        if flow is None:
            return
        if flow.connecting:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._close_flow(
                    flow,
                    f"cannot connect to {self._target_text()}: {errno.errorcode.get(code, code)}",
                    kind="connect-failed",
                )
                return
            flow.connecting = False
            self._update(flow)
            return
        if mask & selectors.EVENT_READ:
            self._read(flow, sock)
        if mask & selectors.EVENT_WRITE and sock in self._flows:
            self._write(flow, sock)

    def _read(self, flow: _Flow, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if flow.dark:
                self._close_socket(flow, sock, f"{self._side(flow, sock)} failed: {exc.strerror}")
            else:
                self._close_flow(flow, f"{self._side(flow, sock)} failed: {exc.strerror}")
            return
        if flow.dark:
            if data:
                with self._lock:
                    self._counts["discarded"] += len(data)
            else:
                self._close_socket(flow, sock, f"{self._side(flow, sock)} closed its (dark) end")
            return
        other = flow.other(sock)
        if not data:
            flow.eof[sock] = True
            if all(flow.eof.values()):
                self._close_flow(flow, "closed by both sides")
                return
            if other is not None and not flow.pending[other]:
                self._shutdown_write(other)
            self._update(flow)
            return
        flow.last_data = time.monotonic()
        if other is not None:
            flow.pending[other] += data
        with self._lock:
            self._counts["forwarded"] += len(data)
        self._update(flow)

    def _write(self, flow: _Flow, sock: socket.socket) -> None:
        buffer = flow.pending[sock]
        if not buffer:
            self._update(flow)
            return
        try:
            sent = sock.send(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._close_flow(flow, f"{self._side(flow, sock)} failed: {exc.strerror}")
            return
        del buffer[:sent]
        flow.last_data = time.monotonic()
        source = flow.other(sock)
        if not buffer and source is not None and flow.eof[source]:
            self._shutdown_write(sock)
        self._update(flow)

    def _update(self, flow: _Flow) -> None:
        """Register each socket for what it needs now: read while the other side has room."""
        for sock in flow.sockets():
            other = flow.other(sock)
            mask = 0
            if flow.dark:
                mask = selectors.EVENT_READ
            else:
                if not flow.eof[sock] and (
                    other is None or len(flow.pending[other]) < BUFFER_LIMIT
                ):
                    mask |= selectors.EVENT_READ
                if flow.pending[sock]:
                    mask |= selectors.EVENT_WRITE
            self._register(sock, mask, flow)

    def _register(self, sock: socket.socket, mask: int, flow: _Flow) -> None:
        try:
            key = self._selector.get_key(sock)
        except KeyError:
            if mask:
                self._selector.register(sock, mask, flow)
            return
        if not mask:
            self._selector.unregister(sock)
        elif key.events != mask:
            self._selector.modify(sock, mask, flow)

    def _go_dark(self, flow: _Flow, now: float) -> None:
        """Forget the flow: drop what was in flight, keep both sockets, read and discard."""
        flow.dark = True
        lost = sum(len(b) for b in flow.pending.values())
        for buffer in flow.pending.values():
            buffer.clear()
        with self._lock:
            self._counts["dropped"] += 1
            self._counts["discarded"] += lost
        self._update(flow)
        self._emit(
            "dark",
            flow.number,
            f"went dark after {now - flow.last_data:.1f} s idle "
            f"(limit {self.idle_seconds:g} s): no FIN, no RST, later bytes vanish",
        )

    def _shutdown_write(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _close_socket(self, flow: _Flow, sock: socket.socket, why: str) -> None:
        """Close one socket of a dark flow; the flow ends when both are closed."""
        self._forget(sock)
        if sock is flow.client:
            flow.client = None
        else:
            flow.upstream = None
        if not flow.sockets():
            self._emit("closed", flow.number, f"closed ({why})")
        else:
            log.debug("flow %d: %s", flow.number, why)

    def _close_flow(self, flow: _Flow, why: str, *, kind: str = "closed") -> None:
        for sock in flow.sockets():
            self._forget(sock)
        flow.client = flow.upstream = None
        self._emit(kind, flow.number, f"closed ({why})" if kind == "closed" else why)

    def _forget(self, sock: socket.socket) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        with self._lock:
            self._flows.pop(sock, None)
        sock.close()

    def _shutdown(self, reason: str) -> None:
        flows = list({id(f): f for f in self._flows.values()}.values())
        for flow in flows:
            self._close_flow(flow, "the relay stopped")
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self._emit("stopped", 0, f"{reason}: {self._summary()}")

    # -- reporting -----------------------------------------------------------------------

    def _summary(self) -> str:
        c = self._counts
        return (
            f"{c['connections']} connections, {c['dropped']} went dark, "
            f"{c['forwarded']} bytes forwarded, {c['discarded']} discarded"
        )

    def _side(self, flow: _Flow, sock: socket.socket) -> str:
        return "client" if sock is flow.client else "target"

    def _target_text(self) -> str:
        return f"{self.target[0]}:{self.target[1]}"

    def _emit(self, kind: str, flow: int, message: str) -> None:
        event = RelayEvent(kind, flow, message)
        with self._lock:
            self._events.append(event)
        log.info("%s", event.line())
        if self._on_event is not None:
            self._on_event(event)
