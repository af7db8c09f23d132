"""Credentials go only to the redis-server's own listener, in rollback too (issue 20 item 5):
with redis-server down and another process squatting its port, a rollback sends nothing to
it, restores the files and says the live values were skipped (partial, exit 1)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import PASSWORD, drift, drifted_redis_conf, write_project


def test_a_rollback_sends_no_password_to_a_port_squatter(fleet: Fleet, tmp_path: Path) -> None:
    drift(fleet)
    host = fleet.hosts[1]
    project = write_project(fleet, tmp_path, [host])
    assert run_cli("apply", "--yes", env=fleet.env(), cwd=project).returncode == 0
    host.stop_redis()
    received: list[bytes] = []
    server = socket.create_server((host.address, 6379))
    server.settimeout(0.2)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            peer.settimeout(2)
            try:
                received.append(peer.recv(65536))
                peer.sendall(b"+OK\r\n")
                received.append(peer.recv(65536))
            except OSError:
                pass
            peer.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        undo = run_cli(
            "rollback", "--last", "--yes", "--format", "json", env=fleet.env(), cwd=project
        )
    finally:
        stop.set()
        thread.join()
        server.close()
        host.start_redis()
    try:
        assert received == [], received  # nothing at all went to a socket no redis-server owns
        assert not any(PASSWORD.encode() in blob for blob in received)
        assert undo.returncode == 1, undo.stdout + undo.stderr
        [report] = json.loads(undo.stdout)["hosts"]
        assert report["status"] == "partial"
        assert any("live value not running; skipped" in line for line in report["runtime"])
        assert host.path("/etc/redis/redis.conf").read_bytes() == drifted_redis_conf()
    finally:
        drift(fleet)
