"""Handlers run in order, in one script per stretch without redis_ping, and stop at the first failure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import remediate.engine.handlers
from remediate.engine.handlers import run_handlers
from remediate.model.facts import RedisEndpoint
from remediate.model.timeouts import Timeouts
from remediate.playbook.schema import Handler
from remediate.remote.connection import CommandResult, ConnectOptions, LocalConnection


@dataclass
class LocalHost:
    name: str = "local"
    address: str = "127.0.0.1"
    connection: str = "local"
    become: bool = False
    become_user: str = "root"


class CountingConnection(LocalConnection):
    def __init__(self) -> None:
        super().__init__(LocalHost(), ConnectOptions(timeout=30))
        self.round_trips = 0

    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult:
        self.round_trips += 1
        return super().run(argv, stdin=stdin, timeout=timeout)


def test_every_handler_and_check_runs_in_order_in_one_round_trip(tmp_path: Path) -> None:
    log = tmp_path / "log"
    handlers = [
        Handler("reload", f"echo reload >> {log}; echo 'it''s done'"),
        Handler(
            "restart", f"echo restart >> {log}", check=f"grep -q restart {log} && echo healthy"
        ),
        Handler("quiet # not a comment for the script", f"echo quiet >> {log} # a comment"),
    ]
    conn = CountingConnection()
    results = run_handlers(conn, handlers, None, Timeouts(10))
    assert conn.round_trips == 1
    assert log.read_text() == "reload\nrestart\nquiet\n"
    assert [(r.name, r.ok) for r in results] == [(h.name, True) for h in handlers]
    assert results[0].output == "its done" and results[1].output == "healthy"


def test_a_failing_command_stops_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "log"
    handlers = [Handler("first", "echo broken; exit 3"), Handler("second", f"echo second >> {log}")]
    results = run_handlers(CountingConnection(), handlers, None, Timeouts(10))
    assert [(r.name, r.ok, r.output) for r in results] == [("first", False, "exit 3: broken")]
    assert not log.exists()


def test_a_failing_check_stops_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "log"
    handlers = [
        Handler("first", "true", check="echo not ready; exit 1"),
        Handler("second", f"echo x >> {log}"),
    ]
    results = run_handlers(CountingConnection(), handlers, None, Timeouts(10))
    assert [(r.name, r.ok, r.output) for r in results] == [
        ("first", False, "check exit 1: not ready")
    ]
    assert not log.exists()


def test_redis_ping_splits_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log"
    pings: list[str] = []

    def fake_check(
        conn: Any, check: str | None, redis: Any, timeout: float, wait: float = 0
    ) -> tuple[bool, str]:
        pings.append(log.read_text())  # the handler's command ran before its ping
        return True, "redis_ping: PONG"

    monkeypatch.setattr(remediate.engine.handlers, "health_check", fake_check)
    handlers = [
        Handler("a", f"echo a >> {log}"),
        Handler("restart redis", f"echo r >> {log}", check="redis_ping"),
        Handler("c", f"echo c >> {log}"),
    ]
    conn = CountingConnection()
    results = run_handlers(conn, handlers, RedisEndpoint("127.0.0.1", 6379), Timeouts(10))
    assert conn.round_trips == 2 and pings == ["a\nr\n"]
    assert log.read_text() == "a\nr\nc\n"
    assert [(r.name, r.ok) for r in results] == [("a", True), ("restart redis", True), ("c", True)]
    assert results[1].output == "redis_ping: PONG"
