"""Gather over the real SSH fleet: bytes, sha256, mode and owner, and per-host failures."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from pathlib import Path

import pytest

from remediate.engine.fanout import run_on_hosts
from remediate.inventory.loader import load_inventory
from remediate.remote.connection import ConnectOptions
from remediate.remote.gather import gather
from tests.fleet import Fleet

FILES = {
    "/srv/app/empty.conf": b"",
    "/srv/app/no-newline.conf": b"timeout 0",
    "/srv/app/latin1.conf": "# café\r\nheartbeat = 60\r\n".encode("latin-1") + b"\x00\xff\xfe",
    "/srv/app/big.bin": bytes(range(256)) * 8192,  # 2 MiB, every byte value
}


def hosts_of(fleet: Fleet, tmp_path: Path, extra: str = "") -> list:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory(extra=extra))
    return list(load_inventory([inventory]).hosts.values())


@pytest.fixture
def home(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(fleet.client_home))


def test_gather_is_byte_exact_with_metadata(fleet: Fleet, tmp_path: Path, home: None) -> None:
    for host in fleet.hosts:
        for remote, content in FILES.items():
            local = host.path(remote)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(content)
        os.chmod(host.path("/srv/app/latin1.conf"), 0o640)
        os.chown(host.path("/srv/app/latin1.conf"), 0, _redis_gid())
    paths = [*FILES, "/srv/app/missing.conf", "/etc/redis/redis.conf"]
    outcomes = run_on_hosts(
        hosts_of(fleet, tmp_path), lambda c: gather(c, paths), ConnectOptions(timeout=10)
    )
    assert [o.host for o in outcomes] == [h.name for h in fleet.hosts]
    for outcome, host in zip(outcomes, fleet.hosts):
        assert outcome.ok, outcome
        files = outcome.value.files
        for remote, content in FILES.items():
            assert files[remote].content == content
            assert files[remote].sha256 == hashlib.sha256(content).hexdigest()
        assert not files["/srv/app/missing.conf"].exists
        latin = files["/srv/app/latin1.conf"]
        assert (latin.mode, latin.owner, latin.uid, latin.gid) == ("0640", "root", 0, _redis_gid())
        assert (
            files["/etc/redis/redis.conf"].content
            == host.path("/etc/redis/redis.conf").read_bytes()
        )


def test_each_host_reads_its_own_files(fleet: Fleet, tmp_path: Path, home: None) -> None:
    for host in fleet.hosts:
        host.path("/srv/app/whoami").parent.mkdir(parents=True, exist_ok=True)
        host.path("/srv/app/whoami").write_text(host.name)
    outcomes = run_on_hosts(
        hosts_of(fleet, tmp_path),
        lambda c: gather(c, ["/srv/app/whoami"], {"uname": "uname -n"}),
        ConnectOptions(),
    )
    for outcome in outcomes:
        assert outcome.value.files["/srv/app/whoami"].content == outcome.host.encode()
        assert outcome.value.probes["uname"].output.strip() == outcome.host.encode()


def test_broken_hosts_are_results_and_the_others_carry_on(
    small_fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(small_fleet.client_home))
    _good, wrong_key, changed_key = small_fleet.hosts
    wrong_key.path("/root/.ssh/authorized_keys").write_text("")  # our key is no longer accepted
    other_key = small_fleet.base / "other_host_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True
    )
    small_fleet.restart(changed_key, host_key=other_key)
    extra = f"\n[fleet]\nghost ansible_host=127.0.{small_fleet.subnet}.250 ansible_user=root\n"
    hosts = hosts_of(small_fleet, tmp_path, extra)
    outcomes = {
        o.host: o
        for o in run_on_hosts(
            hosts, lambda c: gather(c, ["/etc/hostname"]), ConnectOptions(timeout=5)
        )
    }
    assert outcomes["host1"].ok and outcomes["host1"].value.files["/etc/hostname"].exists
    assert "authentication failed" in outcomes["host2"].unreachable
    assert (
        "CHANGED" in outcomes["host3"].unreachable
        and "ssh-keygen -R" in outcomes["host3"].unreachable
    )
    assert (
        "refused" in outcomes["ghost"].unreachable
        or "Unable to connect" in outcomes["ghost"].unreachable
    )


def test_unknown_host_refused_unless_accepted(
    small_fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(small_fleet.client_home))
    small_fleet.known_hosts.write_text("")
    hosts = hosts_of(small_fleet, tmp_path)
    refused = run_on_hosts(hosts, lambda c: gather(c, ["/etc/hostname"]), ConnectOptions())
    assert all("unknown host key" in o.unreachable for o in refused)
    assert small_fleet.known_hosts.read_text() == ""
    accepted = run_on_hosts(
        hosts, lambda c: gather(c, ["/etc/hostname"]), ConnectOptions(accept_new_host_keys=True)
    )
    assert all(o.ok for o in accepted)
    recorded = small_fleet.known_hosts.read_text().splitlines()
    assert sorted(line.split()[0] for line in recorded) == sorted(
        h.address for h in small_fleet.hosts
    )
    again = run_on_hosts(hosts, lambda c: gather(c, ["/etc/hostname"]), ConnectOptions())
    assert all(o.ok for o in again)


def test_timeout_is_a_per_host_result(
    small_fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(small_fleet.client_home))
    hosts = hosts_of(small_fleet, tmp_path)
    slow = {"sleep": "sleep 30"}
    outcomes = run_on_hosts(
        hosts[:1],
        lambda c: gather(c, ["/etc/hostname"], slow, timeout=1),
        ConnectOptions(timeout=1),
    )
    # the host was reached: a command that runs past its deadline fails the host (exit 1), it
    # does not make it "unreachable"
    assert "timed out" in outcomes[0].failed and not outcomes[0].unreachable


def test_sessions_use_aes_gcm_nodelay_and_read_the_key_once(
    fleet: Fleet, tmp_path: Path, home: None
) -> None:
    from remediate.remote import host_trust
    from remediate.remote.connection import connect

    host_trust._private_key_for.cache_clear()
    conns = [connect(h, ConnectOptions(timeout=10)) for h in hosts_of(fleet, tmp_path)]
    try:
        for conn in conns:
            reply = gather(conn, ["/etc/redis", "/etc/hostname"])
            assert reply.files["/etc/redis"].error == "not a regular file"
            assert reply.files["/etc/hostname"].readable
            transport = conn._client.get_transport()  # type: ignore[attr-defined]
            assert transport.local_cipher == transport.remote_cipher == "aes128-gcm@openssh.com"
            assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert host_trust._private_key_for.cache_info().misses == 1  # one key file, parsed once
    finally:
        for conn in conns:
            conn.close()


def _redis_gid() -> int:
    import grp

    try:
        return grp.getgrnam("redis").gr_gid
    except KeyError:
        return 0


def test_proxyjump_from_ssh_config_goes_through_the_jump_host(
    small_fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(small_fleet.client_home))
    jump, target, _ = small_fleet.hosts
    config = small_fleet.client_home / ".ssh" / "config"
    hosts = {h.name: h for h in hosts_of(small_fleet, tmp_path)}
    try:
        config.write_text(
            f"Host {target.address}\n  ProxyJump root@{jump.address}\n"
            f"Host {jump.address}\n  IdentityFile {small_fleet.client_key}\n"
        )
        outcome = run_on_hosts(
            [hosts[target.name]],
            lambda c: gather(c, ["/etc/hostname"], {"n": "uname -n"}),
            ConnectOptions(),
        )[0]
        assert outcome.ok, outcome
        assert outcome.value.probes["n"].output.strip() == target.name.encode()
        # a jump host that is not there: the target, although up, cannot be reached
        config.write_text(
            f"Host {target.address}\n  ProxyJump root@127.0.{small_fleet.subnet}.250\n"
        )
        broken = run_on_hosts(
            [hosts[target.name]], lambda c: gather(c, ["/etc/hostname"]), ConnectOptions(timeout=3)
        )[0]
        assert broken.unreachable
    finally:
        config.unlink()


def test_redis_is_read_through_the_connection_and_its_failures_are_reasons(
    fleet: Fleet, tmp_path: Path, home: None
) -> None:
    from remediate.model.facts import RedisEndpoint
    from remediate.remote.connection import connect
    from remediate.remote.runtime import read_redis
    from tests.scenario import PASSWORD, drift, redis_client

    drift(fleet)  # requirepass PASSWORD, timeout 300, tcp-keepalive 0
    host, other = fleet.hosts[0], fleet.hosts[1]
    hosts = {h.name: h for h in hosts_of(fleet, tmp_path)}
    conn = connect(hosts[host.name], ConnectOptions(timeout=10))
    try:
        live = read_redis(
            conn, RedisEndpoint(host.address, 6379, PASSWORD), ["timeout", "tcp-keepalive"]
        )
        assert (live.running, live.error, live.ping) == (True, "", True)
        assert live.config == {"timeout": "300", "tcp-keepalive": "0"}
        assert live.pid == host.redis_pid() and live.maxclients == 10000
        assert isinstance(live.connected_clients, int) and live.connected_clients >= 1
        wrong = read_redis(conn, RedisEndpoint(host.address, 6379, "not-the-password"), ["timeout"])
        assert wrong.running and "authentication failed" in wrong.error
        closed = read_redis(
            conn, RedisEndpoint(host.address, 6390, PASSWORD), ["timeout"]
        )  # nothing listens there
        # the caller decides "not running" (no redis-server process); a socket that refuses is unknown
        assert not closed.running and closed.live_state.startswith(
            f"unknown: cannot reach {host.address}:6390"
        )
    finally:
        conn.close()
    assert redis_client(other).config_get("timeout") == {"timeout": "300"}
