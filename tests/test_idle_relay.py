"""The idle-dropping relay (issue 15) between real redis-py clients and a real redis-server.

What it must show: traffic passes; a flow idle past the limit goes dark with no FIN and no RST
to either side (the client waits for a reply that never comes, redis-server still lists the
connection); application PINGs keep a flow alive; TCP keepalive probes do not; the relay never
outlives --max-seconds; the CLI starts, forwards and stops on SIGINT with exit 0.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from remediate.errors import UsageError
from remediate.remote.idle_relay import IdleRelay, RelayError, parse_endpoint, require_loopback
from tests.conftest import run_cli
from tests.local_redis import LocalRedis, free_port

TCP_ESTABLISHED = 1  # include/net/tcp_states.h


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    with LocalRedis(tmp_path_factory.mktemp("redis")) as running:
        yield running


def through(relay: IdleRelay, name: str, timeout: float = 1.5) -> redis.Redis:
    """A redis-py client through the relay that never retries (a retry would open a new flow)."""
    host, port = relay.address
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        client_name=name,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
    )


def raw_client(relay: IdleRelay, name: str, *, keepalive: bool = False) -> socket.socket:
    """A bare socket speaking RESP through the relay, named so CLIENT LIST can find it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if keepalive:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    sock.settimeout(3)
    sock.connect(relay.address)
    sock.sendall(f"CLIENT SETNAME {name}\r\n".encode())
    assert sock.recv(100) == b"+OK\r\n"
    return sock


def tcp_state(sock: socket.socket) -> int:
    """The kernel's state of the socket (first byte of struct tcp_info)."""
    return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[:1])[0]


def assert_silent_and_open(sock: socket.socket, wait: float = 1.5) -> None:
    """A PING gets no reply: recv times out — no EOF (FIN), no ConnectionResetError (RST)."""
    sock.sendall(b"PING\r\n")  # the write itself succeeds: the relay's kernel ACKs it
    sock.settimeout(wait)
    with pytest.raises(TimeoutError):
        data = sock.recv(100)
        pytest.fail(f"expected silence, got {data!r} ({'EOF' if not data else 'a reply'})")
    assert tcp_state(sock) == TCP_ESTABLISHED
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_traffic_passes_through_the_relay(server: LocalRedis) -> None:
    with IdleRelay(("127.0.0.1", 0), (server.host, server.port), idle_seconds=5) as relay:
        client = through(relay, "through", timeout=5)
        big = bytes(range(256)) * 8192  # 2 MiB: more than the relay buffers at once
        assert client.set("relay:big", big)
        assert client.get("relay:big") == big
        pipe = client.pipeline(transaction=False)
        for i in range(500):
            pipe.incr("relay:counter")
        assert pipe.execute()[-1] >= 500
        assert client.ping()
        client.close()
        stats = relay.stats()
        assert stats.connections == 2  # the pipeline takes a connection of its own
        assert stats.dropped_flows == 0
        assert stats.bytes_forwarded > 2 * len(big)
    assert not relay.running


def test_an_idle_flow_goes_dark_without_fin_or_rst(server: LocalRedis) -> None:
    with IdleRelay(("127.0.0.1", 0), (server.host, server.port), idle_seconds=1.0) as relay:
        client = through(relay, "idle-victim")
        raw = raw_client(relay, "raw-victim")
        # redis-py's own connection, kept open after its timeout so its socket can be looked at
        low = redis.Connection(
            host=relay.address[0],
            port=relay.address[1],
            socket_timeout=1.5,
            client_name="conn-victim",
            retry=Retry(NoBackoff(), 0),
        )
        low.connect()
        assert client.ping()
        time.sleep(2.0)  # longer than the idle limit, no byte either way
        assert relay.stats().dropped_flows == 3
        with pytest.raises(redis.TimeoutError):
            client.ping()
        low.send_command("PING")
        with pytest.raises(redis.TimeoutError):
            low.read_response(disconnect_on_error=False)
        assert low._sock is not None and tcp_state(low._sock) == TCP_ESTABLISHED
        assert low._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert_silent_and_open(raw)
        # redis-server never heard of it: every connection is still open on its side
        names = server.client_names()
        assert {"idle-victim", "raw-victim", "conn-victim"} <= set(names), names
        stats = relay.stats()
        assert stats.dark_flows == 3 and stats.bytes_discarded >= 2 * len(b"PING\r\n")
        # a new connection is a new flow, and works: what a reconnecting client would find
        fresh = through(relay, "fresh")
        assert fresh.ping()
        fresh.close()
        kinds = [e.kind for e in relay.events]
        assert kinds.count("dark") == 3 and kinds.count("opened") == 4
        raw.close()
        low.disconnect()
    # stopping the relay closes what it held open: redis-server sees the clients go
    gone = {"idle-victim", "raw-victim", "conn-victim"}
    assert wait_for(lambda: not gone & set(server.client_names()), 5)


def test_pings_more_often_than_the_limit_keep_the_flow(server: LocalRedis) -> None:
    """Like kombu's health_check_interval: application data resets the relay's idle clock."""
    with IdleRelay(("127.0.0.1", 0), (server.host, server.port), idle_seconds=1.5) as relay:
        client = through(relay, "pinger")
        started = time.monotonic()
        pings = 0
        while time.monotonic() - started < 6.0:  # four idle windows
            assert client.ping()
            pings += 1
            time.sleep(0.3)
        assert pings >= 12
        assert relay.stats().dropped_flows == 0
        assert client.set("relay:alive", "yes") and client.get("relay:alive") == b"yes"
        client.close()


def test_tcp_keepalive_alone_does_not_keep_a_flow(server: LocalRedis) -> None:
    """DOMAIN.md: keepalive is not enough behind proxies that count only data."""
    with IdleRelay(("127.0.0.1", 0), (server.host, server.port), idle_seconds=2.0) as relay:
        sock = raw_client(relay, "keepalive-only", keepalive=True)
        local_port = sock.getsockname()[1]
        time.sleep(1.5)
        ss = subprocess.run(
            ["ss", "-tnoH", "state", "established", f"( sport = :{local_port} )"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "timer:(keepalive" in ss.stdout, ss.stdout  # the kernel probes this socket
        time.sleep(2.5)
        # Unanswered probes would have reset the socket after 1 + 2 × 1 s: they were answered,
        # and still the flow went dark, because probes carry no data.
        assert tcp_state(sock) == TCP_ESTABLISHED
        assert relay.stats().dropped_flows == 1
        assert_silent_and_open(sock)
        assert "keepalive-only" in server.client_names()
        sock.close()


def test_the_relay_never_outlives_max_seconds(server: LocalRedis) -> None:
    relay = IdleRelay(
        ("127.0.0.1", 0), (server.host, server.port), idle_seconds=30, max_seconds=1.0
    )
    started = time.monotonic()
    with relay:
        address = relay.address
        sock = raw_client(relay, "until-max")
        assert relay.wait(3.0), "the relay outlived --max-seconds"
        assert time.monotonic() - started < 2.0
        assert not relay.running
        sock.settimeout(2)
        assert sock.recv(10) == b""  # it closed what it held
        sock.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=2).close()
    assert relay.events[-1].kind == "stopped" and "--max-seconds" in relay.events[-1].message


def test_a_target_that_refuses_closes_the_client_and_says_so() -> None:
    dead = free_port()
    with IdleRelay(("127.0.0.1", 0), ("127.0.0.1", dead), idle_seconds=5) as relay:
        sock = socket.create_connection(relay.address, timeout=3)
        assert sock.recv(10) == b""
        sock.close()
        assert wait_for(lambda: any(e.kind == "connect-failed" for e in relay.events), 3)
        assert relay.stats().open_flows == 0


def test_endpoints_and_loopback_only() -> None:
    assert parse_endpoint("127.0.0.1:6379", what="--to") == ("127.0.0.1", 6379)
    assert parse_endpoint("[::1]:16379", what="--listen") == ("::1", 16379)
    for bad in ("6379", "host:", "host:port", ":80", "127.0.0.1:70000"):
        with pytest.raises(UsageError, match="HOST:PORT"):
            parse_endpoint(bad, what="--to")
    require_loopback("127.0.0.5")
    require_loopback("::1")
    require_loopback("localhost")
    for outside in ("0.0.0.0", "10.0.0.1", "example.org", "::"):
        with pytest.raises(UsageError, match="loopback"):
            require_loopback(outside)
    with pytest.raises(UsageError):
        IdleRelay(("127.0.0.1", 0), ("127.0.0.1", 1), idle_seconds=0)
    with pytest.raises(RelayError, match="cannot resolve"):
        IdleRelay(("127.0.0.1", 0), ("no-such-host.invalid", 1), idle_seconds=1).start()


def test_cli_forwards_and_stops_on_sigint_with_exit_0(server: LocalRedis) -> None:
    port = free_port()
    exe = Path(sys.executable).with_name("remediate")
    process = subprocess.Popen(
        [
            str(exe),
            "relay",
            "--listen",
            f"127.0.0.1:{port}",
            "--to",
            f"127.0.0.1:{server.port}",
            "--idle",
            "5",
            "--max-seconds",
            "60",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert f"listening on 127.0.0.1:{port}" in first, first
        client = redis.Redis(port=port, socket_timeout=5)
        assert client.ping()
        client.close()
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        rest = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "flow 1: opened from 127.0.0.1:" in rest and "flow 1: closed" in rest, rest
    assert "stopped: 1 connections, 0 went dark" in rest, rest
    assert "Traceback" not in rest


def test_cli_max_seconds_and_usage_errors(server: LocalRedis) -> None:
    started = time.monotonic()
    done = run_cli(
        "relay",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--to",
        f"127.0.0.1:{server.port}",
        "--idle",
        "1",
        "--max-seconds",
        "1",
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10
    assert "stopped after --max-seconds 1" in done.stderr
    outside = run_cli("relay", "--listen", "0.0.0.0:16379", "--to", "127.0.0.1:6379")
    assert outside.returncode == 64 and "loopback" in outside.stderr, outside.stderr
    bad = run_cli("relay", "--to", "nowhere")
    assert bad.returncode == 64 and "HOST:PORT" in bad.stderr, bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run_cli(
            "relay", "--listen", f"127.0.0.1:{taken.getsockname()[1]}", "--to", "127.0.0.1:6379"
        )
    assert busy.returncode == 1 and "cannot listen" in busy.stderr, busy.stderr
