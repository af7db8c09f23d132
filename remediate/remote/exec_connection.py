"""Connections into containers: ``docker exec -i``, ``podman exec -i``, ``kubectl exec -i``.

One code path for the three runtimes, named as Ansible's connection plugins name them
(``community.docker.docker``, ``containers.podman.podman``, ``kubernetes.core.kubectl``
and their short names). Every command is an argument vector handed to the runtime's CLI
(``subprocess`` without a shell): the gather, lock, write and rollback scripts run inside
the container exactly as they run over SSH.

Which container, read from the host's variables as the plugins read them (the last variable
named in a plugin's ``vars:`` list wins):

- docker: ``ansible_docker_host`` > ``ansible_host`` > the inventory name; ``-u`` from
  ``ansible_docker_user`` > ``ansible_user``; ``ansible_docker_extra_args`` before ``exec``.
- podman: ``ansible_podman_host`` > ``ansible_host`` > the inventory name; ``-u`` from
  ``ansible_podman_user`` > ``ansible_user``; ``ansible_podman_executable`` (default
  ``podman``); ``ansible_podman_extra_args`` before ``exec``.
- kubectl: the pod ``ansible_kubectl_pod`` > ``ansible_host`` > the inventory name;
  ``--kubeconfig``, ``--context``, ``-n`` from ``ansible_kubectl_kubeconfig``,
  ``ansible_kubectl_context``, ``ansible_kubectl_namespace``; ``-c`` from
  ``ansible_kubectl_container``; ``kubectl [options] exec -i POD [-c C] -- command``, as the
  kubernetes.core plugin builds it (kubectl cannot choose the user).

TCP (Redis runtime reads) goes through the same exec: ``open_tcp`` starts a relay inside the
container whose stdin and stdout are one end of a local socket pair; redis-py speaks over
the other end. The relay is the first of ``socat``, ``python3``, ``bash`` (``/dev/tcp``) and
``nc`` the image has (POSIX ``sh`` cannot open a TCP connection). It names itself on its first
line, which ``open_tcp`` reads before handing the socket over, so an image without any of
them is one clear error, not a closed connection. ``redis-cli`` is not used: it is not a
byte relay, and redis-py already speaks the protocol.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from remediate.errors import CommandFailed, ConnectionFailed, InventoryError, LockBusy
from remediate.remote.connection import (
    CommandResult,
    ConnectOptions,
    Held,
    HostLike,
    _first_line_or_exit,
    _read_until,
)

#: ansible_connection values -> the runtime whose CLI runs the commands
CONTAINER_CONNECTIONS: dict[str, str] = {
    "community.docker.docker": "docker",
    "community.general.docker": "docker",
    "docker": "docker",
    "containers.podman.podman": "podman",
    "podman": "podman",
    "kubernetes.core.kubectl": "kubectl",
    "community.kubernetes.kubectl": "kubectl",
    "kubectl": "kubectl",
}

#: A byte relay to ``$1:$2`` on stdin/stdout; its first line names the tool (or ``none``).
RELAY_SCRIPT = r"""a=$1; p=$2
if command -v socat >/dev/null 2>&1; then
  echo 'relay socat'
  case "$a" in *:*) a="[$a]";; esac
  exec socat -t 5 - "TCP:$a:$p"
elif command -v python3 >/dev/null 2>&1; then
  echo 'relay python3'
  exec python3 -c '
import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            break
        s.sendall(d)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while True:
    d = s.recv(65536)
    if not d:
        break
    os.write(1, d)
' "$a" "$p"
elif command -v bash >/dev/null 2>&1; then
  echo 'relay bash'
  exec bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 69; cat <&3 & cat >&3; kill $! 2>/dev/null' "$a" "$p"
elif command -v nc >/dev/null 2>&1; then
  echo 'relay nc'
  exec nc "$a" "$p"
fi
echo 'relay none'
exit 69"""


@dataclass(frozen=True)
class ExecTarget:
    """How to run a command in one container: the CLI's argument vector around it."""

    runtime: str  # docker | podman | kubectl
    container: str  # container name or id; the pod for kubectl
    before_exec: tuple[str, ...] = ()  # the CLI and its global options
    exec_options: tuple[str, ...] = ()  # -u USER (docker, podman)
    after_container: tuple[str, ...] = ()  # -c CONTAINER (kubectl)

    def argv(self, command: list[str]) -> list[str]:
        if self.runtime == "kubectl":
            return [
                *self.before_exec,
                "exec",
                "-i",
                self.container,
                *self.after_container,
                "--",
                *command,
            ]
        return [*self.before_exec, "exec", "-i", *self.exec_options, self.container, *command]

    def describe(self) -> str:
        return f"{self.runtime} container {self.container}"


def exec_target(name: str, variables: Mapping[str, Any], connection: str) -> ExecTarget:
    """Pure: the exec command of a host with ``ansible_connection: connection``."""
    runtime = CONTAINER_CONNECTIONS[connection]

    def text(key: str) -> str:
        value = variables.get(key)
        return "" if value is None else str(value).strip()

    def words(key: str) -> list[str]:
        try:
            return shlex.split(text(key))
        except ValueError as exc:
            raise InventoryError(f"{key}: {exc}", host=name) from None

    host = text("ansible_host") or name
    if runtime == "kubectl":
        pod = text("ansible_kubectl_pod") or host
        before = [text("ansible_kubectl_executable") or "kubectl"]
        for key, flag in (
            ("ansible_kubectl_kubeconfig", "--kubeconfig"),
            ("ansible_kubectl_context", "--context"),
            ("ansible_kubectl_namespace", "-n"),
        ):
            if text(key):
                before += [flag, text(key)]
        before += words("ansible_kubectl_extra_args")
        container = text("ansible_kubectl_container")
        _check_name(name, pod, "pod")
        after = ("-c", container) if container else ()
        return ExecTarget(runtime, pod, tuple(before), (), after)
    container = text(f"ansible_{runtime}_host") or host
    _check_name(name, container, "container")
    executable = text("ansible_podman_executable") if runtime == "podman" else ""
    before = [executable or runtime, *words(f"ansible_{runtime}_extra_args")]
    user = text(f"ansible_{runtime}_user") or text("ansible_user")
    return ExecTarget(runtime, container, tuple(before), ("-u", user) if user else ())


def _check_name(host: str, value: str, what: str) -> None:
    if not value or value.startswith("-") or any(c.isspace() for c in value):
        raise InventoryError(f"{what} name {value!r} is not a {what} name", host=host)


def _wrap_become(argv: list[str], host: HostLike) -> list[str]:
    if host.become:
        return ["sudo", "-n", "-u", host.become_user, "--", *argv]
    return argv


#: stderr of the CLI itself (not of the command inside): the container cannot be reached
_CLI_ERRORS = (
    "Error: ",  # podman
    "Error response from daemon",  # docker
    "Cannot connect to the Docker daemon",
    "Error from server",  # kubectl
    "error: ",  # kubectl (no such context, unable to upgrade connection ...)
    "Unable to connect to the server",
)


class ExecConnection:
    """Commands in a container through its runtime's ``exec -i`` (docker, podman, kubectl)."""

    def __init__(self, host: HostLike, options: ConnectOptions, target: ExecTarget) -> None:
        self.host = host
        self.options = options
        self.target = target
        self.endpoint = target.describe()
        self._relays: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def _unreachable(self, stderr: bytes, exited: int) -> ConnectionFailed | None:
        """The CLI's own failure (no such container, daemon down), or None: the command ran."""
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        cli_failed = (self.target.runtime == "podman" and exited == 125) or (
            exited in (1, 125) and bool(lines) and lines[-1].startswith(_CLI_ERRORS)
        )
        if not cli_failed:
            return None
        reason = lines[-1] if lines else f"{self.target.before_exec[0]} exited {exited}"
        return ConnectionFailed(f"{self.endpoint}: {reason}", host=self.host.name)

    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult:
        full = self.target.argv(_wrap_become(argv, self.host))
        limit = timeout or self.options.timeout
        try:
            proc = subprocess.run(
                full, input=stdin, capture_output=True, check=False, timeout=limit
            )
        except FileNotFoundError:
            raise ConnectionFailed(
                f"{self.target.before_exec[0]}: not found on this machine "
                f"(ansible_connection {self.host.connection} runs it)",
                host=self.host.name,
            ) from None
        except subprocess.TimeoutExpired:
            raise CommandFailed(
                f"command timed out after {limit:g} s", host=self.host.name
            ) from None
        failed = self._unreachable(proc.stderr, proc.returncode) if proc.returncode else None
        if failed is not None and not proc.stdout:
            raise failed
        return CommandResult(shlex.join(full), proc.stdout, proc.stderr, proc.returncode)

    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> socket.socket:
        """A socket to ``address:port`` as the container sees it, relayed over ``exec -i``."""
        limit = timeout or self.options.timeout
        ours, theirs = socket.socketpair()
        errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close(), with the relay)
        argv = self.target.argv(["sh", "-c", RELAY_SCRIPT, "remediate-relay", address, str(port)])
        try:
            proc = subprocess.Popen(
                argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=errors
            )
        except FileNotFoundError:
            ours.close()
            errors.close()
            raise ConnectionFailed(
                f"{self.target.before_exec[0]}: not found on this machine", host=self.host.name
            ) from None
        finally:
            theirs.close()
        self._relays.append((proc, errors))
        ours.settimeout(limit)
        try:
            first = _read_line(ours)
        except OSError as exc:
            first = b""
            detail = str(exc)
        else:
            detail = ""
        if not first.startswith(b"relay ") or first.strip() == b"relay none":
            ours.close()
            proc.wait(limit)
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip().splitlines()
            if first.strip() == b"relay none":
                reason = "no TCP relay in the container (socat, python3, bash or nc)"
            else:
                reason = said[-1] if said else detail or f"the exec ended ({proc.returncode})"
            raise ConnectionFailed(
                f"cannot reach {address}:{port} in {self.endpoint}: {reason}", host=self.host.name
            )
        return ours

    def hold(self, argv: list[str], timeout: float, until: bytes = b"") -> Held:
        full = self.target.argv(_wrap_become(argv, self.host))
        try:
            proc = subprocess.Popen(
                full, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except FileNotFoundError:
            raise ConnectionFailed(
                f"{self.target.before_exec[0]}: not found on this machine", host=self.host.name
            ) from None
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        try:
            pid = _first_line_or_exit(proc.stdout.readline, timeout, self.host.name, "lock")
            output = _read_until(proc.stdout.readline, until, self.host.name)
        except LockBusy:
            proc.kill()
            _, stderr = proc.communicate()
            failed = self._unreachable(stderr, proc.returncode or 0)
            if failed is not None:
                raise failed from None
            raise
        except (ConnectionFailed, CommandFailed):
            proc.kill()
            proc.wait()
            raise

        def release() -> None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()

        return Held(release, pid, output)

    def close(self) -> None:
        for proc, errors in self._relays:
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            errors.close()
        self._relays = []


def _read_line(sock: socket.socket) -> bytes:
    """One line from ``sock``, byte by byte (nothing past the newline is consumed)."""
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line


def connect_container(host: HostLike, options: ConnectOptions) -> ExecConnection:
    """``host.connection`` is the short name (docker, podman, kubectl) the inventory gives."""
    variables = getattr(host, "vars", {}) or {}
    return ExecConnection(host, options, exec_target(host.name, variables, host.connection))
