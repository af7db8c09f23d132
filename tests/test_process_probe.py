"""The process probe: pure parsing of recorded output, and the probe run for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from remediate.model.facts import Listener, ProcessFact
from remediate.remote.processes import PROCESS_PROBE, decode_address, parse_process_probe
from remediate.remote.runtime import parse_rabbitmq_probe

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "processes-debian.txt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0100007F:18EB", ("127.0.0.1", 6379)),
        ("00000000:18EC", ("0.0.0.0", 6380)),
        ("050B007F:0016", ("127.0.11.5", 22)),
        ("00000000000000000000000001000000:18EB", ("::1", 6379)),
        ("00000000000000000000000000000000:18EB", ("::", 6379)),
        ("0000000000000000FFFF00000100007F:18EB", ("127.0.0.1", 6379)),  # IPv4-mapped
        ("B80D0120000000000000000001000000:1538", ("2001:db8::1", 5432)),
    ],
)
def test_proc_net_addresses_decode(text: str, expected: tuple[str, int]) -> None:
    assert decode_address(text) == expected


def test_decode_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        decode_address("0100:18EB")


def test_recorded_debian_output_gives_processes_with_their_own_listeners() -> None:
    processes = parse_process_probe(RECORDED.read_bytes())
    assert processes == (
        ProcessFact(
            10625,
            "redis-server",
            0,
            "/usr/bin/redis-check-rdb",
            ("redis-server 127.0.11.3:6379",),
            "/var/lib/redis",
            (Listener("127.0.11.3", 6379, 132186),),
        ),
        ProcessFact(
            10633,
            "redis-server",
            0,
            "/usr/bin/redis-check-rdb",
            ("redis-server 127.0.11.2:6379",),
            "/var/lib/redis",
            (Listener("127.0.11.2", 6379, 132203),),
        ),
    )  # the other LISTEN rows (sshd on :22, a redis of another host) belong to no process found


def test_ipv6_rows_argv_and_unreadable_fds() -> None:
    output = (
        b"@P 42 999 redis-server\n@E /usr/bin/redis-server\n/\nsocket:[7]\nsocket:[8]\nsocket:[9]\n"
        b"\n@A /usr/bin/redis-server\0/etc/redis/redis-6380.conf\0--port\x006380\0\n"
        b"@P 43 - beam.smp\n@E \n@A \n"  # another user's process: nothing readable
        b"@T\n"
        b"00000000000000000000000001000000:18EC 00000000:00000000 00:00000000 00000000 0 0 8 1\n"
        b"0100007F:18EC 00000000:00000000 00:00000000 00000000 0 0 7 1\n"
        b"00000000:18EB 00000000:00000000 00:00000000 00000000 0 0 99 1\n"
    )
    redis, beam = parse_process_probe(output)
    assert redis.argv == ("/usr/bin/redis-server", "/etc/redis/redis-6380.conf", "--port", "6380")
    assert redis.uid == 999 and redis.cwd == "/"
    assert redis.listeners == (Listener("127.0.0.1", 6380, 7), Listener("::1", 6380, 8))
    assert redis.connect_listener() == Listener("127.0.0.1", 6380, 7)
    assert beam == ProcessFact(43, "beam.smp", None, "", (), "", ())


def test_wildcard_listener_is_reached_on_loopback() -> None:
    wildcard = Listener("0.0.0.0", 6379)
    assert wildcard.reach() == "127.0.0.1" and wildcard.accepts("10.0.0.5", 6379)
    assert not Listener("10.0.0.5", 6379).accepts("127.0.0.1", 6379)
    process = ProcessFact(1, "redis-server", listeners=(Listener("10.0.0.5", 6379), wildcard))
    assert process.connect_listener() == wildcard


def test_the_probe_finds_the_real_redis_servers_of_this_machine(fleet: object) -> None:
    """Inside each host (its own PID namespace, the machine's sockets): its one redis-server,
    owning exactly its own listener; on the machine itself, every host's redis-server."""
    for host in fleet.hosts:  # type: ignore[attr-defined]
        output = host.exec(["sh", "-c", PROCESS_PROBE]).stdout
        (process,) = parse_process_probe(output)
        assert process.pid == host.redis_pid() and process.uid == 0
        assert process.listeners == (Listener(host.address, 6379, process.listeners[0].inode),)
        assert process.exe.startswith("/usr/bin/redis") and process.cwd == "/var/lib/redis"
    output = subprocess.run(["sh", "-c", PROCESS_PROBE], capture_output=True, check=True).stdout
    addresses = {lst.address for p in parse_process_probe(output) for lst in p.listeners}
    assert {h.address for h in fleet.hosts} <= addresses  # type: ignore[attr-defined]


PROBES = RECORDED.parent


@pytest.mark.parametrize(
    ("recorded", "exited", "state"),
    [
        ("rabbitmq-read.txt", 0, "read"),
        (
            "rabbitmq-stop-app.txt",
            0,
            "unknown: the rabbit application is stopped in the running node (beam.smp pid 40;",
        ),
        (
            "rabbitmq-wrong-cookie.txt",
            69,
            (
                "unknown: rabbitmqctl cannot talk to the node while beam.smp runs: Erlang "
                "distribution failed (the CLI's Erlang cookie differs"
            ),
        ),
        ("rabbitmq-hung.txt", 124, "unknown: rabbitmqctl did not answer within 20 s"),
    ],
)
def test_recorded_rabbitmqctl_outputs_are_read_or_unknown(
    recorded: str, exited: int, state: str
) -> None:
    """Outputs of the real rabbitmqctl 3.10 (RABBITMQ_PROBE inside a fleet host): read; the
    rabbit application stopped (stop_app); a CLI with another Erlang cookie; a node stopped
    with SIGSTOP (the probe's timeout)."""
    runtime = parse_rabbitmq_probe((PROBES / recorded).read_bytes(), exited)
    assert runtime.live_state.startswith(state), runtime.live_state
    assert runtime.running == (state == "read")
    if state == "read":
        assert (runtime.heartbeat, runtime.pid) == (60, 40)


def test_rabbitmq_probe_states_without_a_node() -> None:
    assert parse_rabbitmq_probe(b"nodedown: no beam.smp process\n", 69).live_state == (
        "not running"
    )
    assert parse_rabbitmq_probe(b"rabbitmqctl: not installed\n", 127).live_state.startswith(
        "unknown: beam.smp runs but rabbitmqctl is not installed"
    )
    old = parse_rabbitmq_probe(b'{undefined,"77"}\n', 0)  # without the application flag
    assert old.live_state == "read" and old.heartbeat is None and old.pid == 77
