"""docker and kubectl share podman's exec code path: stand-in CLIs record the argument vectors.

A stand-in is a script on PATH named ``docker`` or ``kubectl`` that appends its argv (JSON)
to a file and runs the command part locally (after the container name for docker, after
``--`` for kubectl). What a real run adds that these cannot show: the runtime's own
behaviour (a stopped container, a pod with several containers and no ``-c``, RBAC on
``pods/exec``), which the podman tests cover for one runtime.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from remediate.errors import ConnectionFailed, InventoryError
from remediate.remote.connection import ConnectOptions
from remediate.remote.exec_connection import ExecConnection, exec_target
from remediate.remote.gather import gather
from remediate.remote.scripts import lock_script

STAND_IN = """#!/usr/bin/python3
import json, os, sys
with open(os.environ["STAND_IN_LOG"], "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
args = sys.argv[1:]
if os.path.basename(sys.argv[0]) == "kubectl":
    command = args[args.index("--") + 1:]
else:
    i = args.index("exec") + 2  # exec -i
    while args[i] in ("-u",):
        i += 2
    if args[i] == "gone":
        sys.stderr.write("Error response from daemon: No such container: gone\\n")
        sys.exit(1)
    command = args[i + 1:]
os.execvp(command[0], command)
"""


@dataclass(frozen=True)
class FakeHost:
    name: str
    connection: str
    vars: dict[str, Any] = field(default_factory=dict)
    address: str = ""
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    become: bool = False
    become_user: str = "root"


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "kubectl"):
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("STAND_IN_LOG", str(log))
    yield log


def recorded(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_docker_names_and_precedence_as_ansible_documents() -> None:
    target = exec_target(
        "web1",
        {"ansible_host": "ignored", "ansible_docker_host": "redis-1", "ansible_user": "redis"},
        "docker",
    )
    assert target.argv(["sh", "-c", "x"]) == [
        "docker", "exec", "-i", "-u", "redis", "redis-1", "sh", "-c", "x",
    ]  # fmt: skip
    assert exec_target("web1", {}, "docker").argv(["id"]) == ["docker", "exec", "-i", "web1", "id"]
    extra = exec_target("w", {"ansible_docker_extra_args": "-H tcp://10.0.0.5:2376"}, "docker")
    assert extra.argv(["id"])[:4] == ["docker", "-H", "tcp://10.0.0.5:2376", "exec"]


def test_podman_names_and_executable() -> None:
    target = exec_target(
        "w",
        {"ansible_host": "a", "ansible_podman_host": "b", "ansible_podman_executable": "/opt/p"},
        "podman",
    )
    assert target.argv(["id"]) == ["/opt/p", "exec", "-i", "b", "id"]


def test_kubectl_builds_the_command_as_the_collection_does() -> None:
    target = exec_target(
        "celery-0",
        {
            "ansible_kubectl_namespace": "jobs",
            "ansible_kubectl_context": "prod",
            "ansible_kubectl_kubeconfig": "/k/config",
            "ansible_kubectl_container": "worker",
        },
        "kubectl",
    )
    assert target.argv(["sh", "-c", "x"]) == [
        "kubectl", "--kubeconfig", "/k/config", "--context", "prod", "-n", "jobs",
        "exec", "-i", "celery-0", "-c", "worker", "--", "sh", "-c", "x",
    ]  # fmt: skip
    pod = exec_target("h", {"ansible_kubectl_pod": "redis-0", "ansible_host": "x"}, "kubectl")
    assert pod.container == "redis-0"


def test_a_name_that_would_be_an_option_is_refused() -> None:
    with pytest.raises(InventoryError, match="container name"):
        exec_target("h", {"ansible_host": "--privileged"}, "docker")


@pytest.mark.parametrize("runtime", ["docker", "kubectl"])
def test_gather_lock_and_relay_run_through_the_stand_in(
    runtime: str, stand_ins: Path, tmp_path: Path
) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_bytes(b"timeout 300\n")
    host = FakeHost("box", runtime, {"ansible_host": "ctr-1", "ansible_kubectl_namespace": "ns"})
    conn = ExecConnection(host, ConnectOptions(timeout=10), exec_target("box", host.vars, runtime))
    reply = gather(conn, [str(conf)], {"hello": "echo hi"})
    assert reply.files[str(conf)].content == b"timeout 300\n"
    assert reply.probes["hello"].output == b"hi\n"
    argv = recorded(stand_ins)[-1]
    assert argv[0].endswith(f"/{runtime}")
    if runtime == "kubectl":
        assert argv[1:7] == ["-n", "ns", "exec", "-i", "ctr-1", "--"]
    else:
        assert argv[1:4] == ["exec", "-i", "ctr-1"]
    assert argv[-1] == str(conf)  # the path travels as its own argument, not in the script

    held = conn.hold(lock_script(str(tmp_path / "lock" / "remediate.lock"), 5), 10)
    assert held.pid > 0
    held.release()

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def echo() -> None:
            peer, _ = server.accept()
            with peer:
                peer.sendall(peer.recv(100).upper())

        threading.Thread(target=echo, daemon=True).start()
        sock = conn.open_tcp("127.0.0.1", port, 10)
        sock.sendall(b"ping\n")
        assert sock.recv(100) == b"PING\n"
        sock.close()
    conn.close()
    relay = recorded(stand_ins)[-1]
    assert relay[-3:] == ["remediate-relay", "127.0.0.1", str(port)]


def test_the_clis_own_error_is_unreachable(stand_ins: Path) -> None:
    host = FakeHost("box", "docker", {"ansible_host": "gone"})
    conn = ExecConnection(host, ConnectOptions(timeout=10), exec_target("box", host.vars, "docker"))
    with pytest.raises(ConnectionFailed, match="No such container: gone"):
        conn.run(["true"])
