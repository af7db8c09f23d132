"""Connections to hosts: SSH (fabric + paramiko) and local, behind one small interface.

A connection runs an argument vector (never a shell string built from user input:
every word is quoted with ``shlex.quote``) and returns a ``CommandResult`` value.
SSH connections can also open a ``direct-tcpip`` channel to an address as the
host sees it, so Redis on the host's loopback is reachable without exposing it.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Protocol

from remediate.errors import CommandFailed, ConnectionFailed, InventoryError, LockBusy
from remediate.model.timeouts import Timeouts
from remediate.remote import steps
from remediate.remote.deadline import Stalled, stopped_probe, wait_channel, with_pid
from remediate.remote.host_trust import (
    UnknownHost,
    UnknownHostPolicy,
    aead_transport,
    private_key,
    trusted_keys,
)
from remediate.remote.host_trust import known_hosts as known_hosts_of
from remediate.remote.host_trust import ssh_config as user_ssh_config
from remediate.remote.ssh_route import needs_route, open_route, route_of


@dataclass(frozen=True)
class CommandResult:
    """What a command did on a host (a value: no live handle)."""

    command: str
    stdout: bytes
    stderr: bytes
    exited: int

    @property
    def ok(self) -> bool:
        return self.exited == 0


class HostLike(Protocol):
    """What a connection needs to know about a host (inventory.Host satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def key_file(self) -> str | None: ...
    @property
    def connection(self) -> str: ...
    @property
    def become(self) -> bool: ...
    @property
    def become_user(self) -> str: ...


@dataclass(frozen=True)
class ConnectOptions:
    """Fleet-wide connection settings from the command line."""

    timeout: float = 10.0  # --timeout: connect, and the base every other wait derives from
    accept_new_host_keys: bool = False
    known_hosts: str | None = None  # default: ~/.ssh/known_hosts (or UserKnownHostsFile)

    @property
    def timeouts(self) -> Timeouts:
        """Every remote wait, derived once from ``timeout``."""
        return Timeouts(self.timeout)


def shell_command(
    argv: list[str], *, become: bool = False, become_user: str = "root", password: bool = False
) -> str:
    """Quote ``argv`` into one command line for a POSIX shell; wrap in ``sudo -n``.

    ``password``: the caller sends the become password as the first line of stdin (never on
    a command line). Where sudo needs no password (NOPASSWD, or cached credentials) the shell
    reads that line itself, so it never reaches the command; else ``sudo -k -S`` reads it
    (``-k``: a cached credential cannot leave the line for the command to read).
    """
    quoted = " ".join(shlex.quote(word) for word in argv)
    if not become:
        return quoted
    user = shlex.quote(become_user)
    if not password:
        return f"sudo -n -u {user} -- {quoted}"
    return (
        f"if sudo -n -u {user} true 2>/dev/null; then IFS= read -r _; "
        f"exec sudo -n -u {user} -- {quoted}; "
        f"else exec sudo -k -S -p '' -u {user} -- {quoted}; fi"
    )


def become_password(host: HostLike) -> bytes:
    """The become password line to send first on stdin (b"" when not becoming or none set)."""
    if not host.become:
        return b""
    method = str(getattr(host, "become_method", "sudo") or "sudo")
    if method != "sudo":
        raise InventoryError(
            f"ansible_become_method {method!r} is not supported: remediate becomes with sudo "
            "only (su reads its password from a terminal, never from stdin)",
            host=host.name,
        )
    secret = getattr(host, "become_password", None)
    return f"{secret}\n".encode() if secret else b""


class Connection(Protocol):
    host: HostLike

    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult: ...
    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> Any: ...
    def hold(self, argv: list[str], timeout: float, until: bytes = b"") -> Held: ...
    def close(self) -> None: ...


class Held:
    """A remote command kept running (a lock holder) until ``release()`` closes its stdin.

    ``output``: what the lock script's first command printed after the ``LOCKED`` line (a
    lock script can gather in the same round trip once the lock is held), read up to the
    line that starts with the ``until`` marker.
    """

    def __init__(self, release: Any, pid: int, output: bytes = b"") -> None:
        self._release = release
        self.pid = pid  # the holder's pid on the host: alive exactly as long as the lock is ours
        self.output = output

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def _read_until(read_line: Any, marker: bytes, host: str) -> bytes:
    """A lock holder's first command's output, up to the ``\\n<marker> <status>`` line it ends with.

    b"" reads nothing. A command that failed, or a holder that stopped first, is an error.
    """
    if not marker:
        return b""
    chunks: list[bytes] = []
    while True:
        line = read_line()
        if not line:
            raise CommandFailed(
                "the lock holder stopped before its first command finished", host=host
            )
        if line.startswith(marker + b" ") and chunks and chunks[-1].endswith(b"\n"):
            status = line[len(marker) + 1 :].strip()
            if status != b"0":
                raise CommandFailed(
                    f"the command run under the lock exited {status.decode('ascii', 'replace')}",
                    host=host,
                )
            output = b"".join(chunks)
            return output[:-1]  # the newline the marker line brought
        chunks.append(line)


def become_refused(stdout: bytes, stderr: bytes, exited: int, host: HostLike) -> str:
    """Why sudo refused to run a command ("" if it did not): the same words in every command.

    A login user without sudo rights (or an unknown ``ansible_become_user``) reached the
    host: the host is *failed*, never unreachable."""
    if not host.become or exited == 0 or stdout.strip():
        return ""
    said = [
        line.strip()
        for line in stderr.decode("utf-8", "replace").splitlines()
        if line.startswith("sudo:")
    ]
    if not said:
        return ""
    return f"sudo refused to run commands as {host.become_user} for this login: {said[0]}"


def _first_line_or_exit(
    read_line: Any, limit: float, host: str, what: str, become: HostLike | None = None
) -> int:
    line = read_line()
    if become is not None and become.become and line.startswith(b"sudo:"):
        said = line
        while more := read_line():  # the lock script never started: sudo's own lines, then EOF
            said += more
        raise CommandFailed(become_refused(b"", said, 1, become), host=host)
    words = line.split()
    if len(words) != 2 or words[0] != b"LOCKED" or not words[1].isdigit():
        reason = line.decode("utf-8", "replace").strip()
        raise LockBusy(
            reason or "another remediate run holds this host's lock; try again when it ends",
            host=host,
        )
    return int(words[1])


class LocalConnection:
    """Runs commands on this machine (``ansible_connection: local``)."""

    def __init__(self, host: HostLike, options: ConnectOptions) -> None:
        self.host = host
        self.options = options

    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult:
        secret = become_password(self.host)
        command = shell_command(
            argv, become=self.host.become, become_user=self.host.become_user, password=bool(secret)
        )
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command],
                input=secret + stdin,
                capture_output=True,
                check=False,
                timeout=timeout or self.options.timeout,
            )
        except subprocess.TimeoutExpired as exc:
            steps.failed(self.host.name, argv, started, "timed out")
            raise CommandFailed(
                f"command timed out after {exc.timeout:g} s", host=self.host.name
            ) from None
        steps.ran(
            self.host.name, argv, started, proc.returncode, len(proc.stdout), len(proc.stderr)
        )
        refused = become_refused(proc.stdout, proc.stderr, proc.returncode, self.host)
        if refused:
            raise CommandFailed(refused, host=self.host.name)
        return CommandResult(command, proc.stdout, proc.stderr, proc.returncode)

    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> socket.socket:
        return socket.create_connection((address, port), timeout=timeout or self.options.timeout)

    def hold(self, argv: list[str], timeout: float, until: bytes = b"") -> Held:
        secret = become_password(self.host)
        command = shell_command(
            argv, become=self.host.become, become_user=self.host.become_user, password=bool(secret)
        )
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None and proc.stdin is not None
        if secret:
            proc.stdin.write(secret)
            proc.stdin.flush()
        try:
            pid = _first_line_or_exit(
                proc.stdout.readline, timeout, self.host.name, "lock", self.host
            )
            output = _read_until(proc.stdout.readline, until, self.host.name)
        except (LockBusy, ConnectionFailed, CommandFailed):
            proc.kill()
            proc.wait()
            raise

        def release() -> None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout)

        return Held(release, pid, output)

    def close(self) -> None:
        pass


def nodelay_socket(hostname: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with Nagle's algorithm off, as OpenSSH's own client sets it.

    paramiko leaves it on, and SSH is a request/reply protocol of small packets: a small
    write behind an unacknowledged one waits for the peer's delayed ACK (40 ms on Linux).
    Measured here on one host: a gather round trip 50 ms with it on, 9 ms off; a Redis
    read through the connection 25 ms and 1.5 ms.
    """
    sock = socket.create_connection((hostname, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class SSHConnection:
    """One SSH connection to a host; every command and tunnel shares its transport."""

    def __init__(self, host: HostLike, options: ConnectOptions) -> None:
        self.host = host
        self.options = options
        self._client: Any = None
        #: the SSH banner the peer sent on a failed attempt ("" none; None: no TCP connection)
        self._peer_banner: str | None = None
        #: ``address:port`` connected to (with ~/.ssh/config's HostName and Port once open)
        self.endpoint = f"{host.address}:{host.port or 22}"
        self._gateways: list[Any] = []  # jump hosts' clients (ssh_route), closed with this one
        #: why the host stopped answering: every later wait fails at once (no deadline twice)
        self.stalled = ""

    # -- connecting -----------------------------------------------------------------
    def open(self) -> None:
        import paramiko

        if needs_route(self.host):  # SSH arguments, a password or host-key settings: see ssh_route
            route = route_of(
                self.host,
                self.options.timeout,
                self.options.accept_new_host_keys,
                self.options.known_hosts,
            )
            self.endpoint = route.endpoint
            self._client, self._gateways = open_route(route, self.host.name, self.options.timeout)
            return
        ssh_config = user_ssh_config().lookup(self.host.address)
        if "proxyjump" in ssh_config:
            client, user, connect, gateways = self._through_jump_host()
        else:
            (client, user, connect), gateways = self._direct(ssh_config), []
        known_hosts = self._known_hosts_file(ssh_config)
        policy = UnknownHostPolicy(self.options.accept_new_host_keys, known_hosts)
        try:
            if gateways:  # a rare path: each client of the jump chain asks the parsed file
                for each in [client, *gateways]:
                    each._system_host_keys = trusted_keys(known_hosts)
            else:  # the host's own entries, from the file parsed once for the whole fleet
                name = self._hostkey_name(ssh_config)
                for key_type, key in (known_hosts_of(known_hosts).lookup(name) or {}).items():
                    client.get_host_keys().add(name, key_type, key)
        except (OSError, paramiko.SSHException) as exc:
            raise ConnectionFailed(
                f"cannot read known_hosts {known_hosts}: {exc}", host=self.host.name
            ) from None
        for each in [client, *gateways]:  # jump hosts' keys are checked like the target's
            each.set_missing_host_key_policy(policy)
        endpoint = self.endpoint = self._endpoint(ssh_config)
        started = time.monotonic()
        steps.log.debug("%s: connecting to %s as %s", self.host.name, endpoint, user)
        try:
            connect()
        except paramiko.BadHostKeyException as exc:
            raise ConnectionFailed(
                f"{endpoint}: host key for {exc.hostname} has CHANGED (got {exc.key.get_name()} "
                f"{exc.key.fingerprint}); refusing to connect. If the host was rebuilt, remove "
                f"its old entry with: ssh-keygen -R {exc.hostname}",
                host=self.host.name,
            ) from None
        except UnknownHost as exc:
            raise ConnectionFailed(f"{endpoint}: {exc}", host=self.host.name) from None
        except paramiko.AuthenticationException as exc:
            raise ConnectionFailed(
                f"{endpoint}: authentication failed for user {user}: {exc}", host=self.host.name
            ) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise ConnectionFailed(
                connect_error(exc, self._peer_banner, endpoint, self.options.timeout),
                host=self.host.name,
            ) from None
        steps.log.debug(
            "%s: connected to %s in %.3f s", self.host.name, endpoint, time.monotonic() - started
        )
        self._client = client

    def _endpoint(self, ssh_config: dict[str, Any]) -> str:
        """``address:port`` as connected to (``[v6]:port`` for an IPv6 address)."""
        hostname = str(ssh_config.get("hostname", self.host.address))
        port = self.host.port or int(ssh_config.get("port", 22))
        return f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"

    def _hostkey_name(self, ssh_config: dict[str, Any]) -> str:
        """The name paramiko looks the host's key up under: host, or [host]:port."""
        hostname = ssh_config.get("hostname", self.host.address)
        port = self.host.port or int(ssh_config.get("port", 22))
        return hostname if port == 22 else f"[{hostname}]:{port}"

    def _direct(self, ssh_config: dict[str, Any]) -> tuple[Any, str, Any]:
        """A plain paramiko client with ~/.ssh/config's HostName, User, Port and IdentityFile."""
        import getpass

        import paramiko

        hostname = ssh_config.get("hostname", self.host.address)
        port = self.host.port or int(ssh_config.get("port", 22))
        user = self.host.user or ssh_config.get("user") or getpass.getuser()
        keys = (
            [os.path.expanduser(self.host.key_file)]
            if self.host.key_file
            else [os.path.expanduser(k) for k in ssh_config.get("identityfile", [])]
        )
        client = paramiko.SSHClient()
        pkey = private_key(keys[0]) if len(keys) == 1 else None

        def connect() -> None:
            sock = nodelay_socket(hostname, port, self.options.timeout)
            try:
                client.connect(
                    hostname,
                    port=port,
                    username=user,
                    pkey=pkey,
                    key_filename=None if pkey is not None else keys or None,
                    timeout=self.options.timeout,
                    banner_timeout=self.options.timeout,
                    auth_timeout=self.options.timeout,
                    transport_factory=aead_transport(),
                    sock=sock,
                )
            except BaseException:
                transport = client.get_transport()
                self._peer_banner = transport.remote_version if transport is not None else ""
                client.close()  # stop its transport thread before the socket goes
                sock.close()
                raise

        return client, user, connect

    def _through_jump_host(self) -> tuple[Any, str, Any, list[Any]]:
        """Hosts behind a ProxyJump: fabric builds the chain of gateways from ~/.ssh/config."""
        from fabric import Config
        from fabric import Connection as FabricConnection

        connect_kwargs: dict[str, Any] = {
            "banner_timeout": self.options.timeout,
            "auth_timeout": self.options.timeout,
        }
        if self.host.key_file:
            connect_kwargs["key_filename"] = os.path.expanduser(self.host.key_file)
        fabric_conn = FabricConnection(
            self.host.address,
            user=self.host.user,
            port=self.host.port,
            config=Config(),
            connect_timeout=max(1, int(self.options.timeout)),
            connect_kwargs=connect_kwargs,
        )
        gateways, hop = [], fabric_conn.gateway
        while isinstance(hop, FabricConnection):  # fabric would auto-add their keys otherwise
            gateways.append(hop.client)
            hop = hop.gateway
        return fabric_conn.client, fabric_conn.user, fabric_conn.open, gateways

    def _known_hosts_file(self, ssh_config: dict[str, Any]) -> str:
        if self.options.known_hosts:
            return self.options.known_hosts
        configured = ssh_config.get("userknownhostsfile")
        if configured:
            return os.path.expanduser(str(configured).split()[0])
        return os.path.expanduser("~/.ssh/known_hosts")

    # -- using it -------------------------------------------------------------------
    def run(
        self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None
    ) -> CommandResult:
        self._check_stalled()
        if self._client is None:
            self.open()
        secret = become_password(self.host)
        command = shell_command(
            argv, become=self.host.become, become_user=self.host.become_user, password=bool(secret)
        )
        limit = timeout or self.options.timeout
        started = time.monotonic()
        idle = self.options.timeout
        deadline = time.monotonic() + limit
        channel = None
        try:
            channel = self._client.get_transport().open_session(timeout=min(limit, idle))
            channel.exec_command(with_pid(command))
            stdout, stderr, exited = wait_channel(
                channel, secret + stdin, deadline, idle, self._probe
            )
            channel.close()
        except Stalled as exc:
            raise self._stall(f"host stopped responding: {exc}") from None
        except TimeoutError:
            steps.failed(self.host.name, argv, started, "timed out")
            raise self._stall(f"command timed out after {limit:g} s") from None
        except (OSError, EOFError) as exc:
            steps.failed(self.host.name, argv, started, "connection lost")
            raise ConnectionFailed(
                f"{self.endpoint}: connection lost: {_reason(exc)}", host=self.host.name
            ) from None
        except Exception as exc:  # noqa: BLE001  (paramiko.SSHException and friends)
            if channel is None and "Timeout opening channel" in str(exc):
                raise self._stall(
                    f"host stopped responding: no new SSH channel within {min(limit, idle):g} s"
                ) from None
            raise ConnectionFailed(
                f"{self.endpoint}: SSH error: {_reason(exc)}", host=self.host.name
            ) from None
        steps.ran(self.host.name, argv, started, exited, len(stdout), len(stderr))
        refused = become_refused(stdout, stderr, exited, self.host)
        if refused:
            raise CommandFailed(refused, host=self.host.name)
        return CommandResult(command, stdout, stderr, exited)

    def _check_stalled(self) -> None:
        if self.stalled:
            raise CommandFailed(self.stalled, host=self.host.name)

    def _stall(self, why: str) -> CommandFailed:
        """Remember that the host stopped answering and drop the connection."""
        self.stalled = why
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110  (closing a dead transport: nothing to do)
                pass
        return CommandFailed(why, host=self.host.name)

    def _probe(self, pid: int | None) -> None:
        """Raise ``Stalled`` if the command ``pid`` (or a child) is stopped, or the session is."""
        idle = self.options.timeout
        try:
            channel = self._client.get_transport().open_session(timeout=idle)
            channel.exec_command(stopped_probe(pid) if pid else "true")
            out, _, _ = wait_channel(channel, b"", time.monotonic() + idle, idle, lambda _pid: None)
            channel.close()
        except Exception as exc:
            raise Stalled(f"no answer on a second channel within {idle:g} s") from exc
        if b"STOPPED" in out:
            raise Stalled(f"its command (pid {pid}) is stopped")

    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> Any:
        """A socket-like ``direct-tcpip`` channel to ``address:port`` as the host sees it."""
        self._check_stalled()
        if self._client is None:
            self.open()
        limit = timeout or self.options.timeout
        try:
            channel = self._client.get_transport().open_channel(
                "direct-tcpip", (address, port), ("127.0.0.1", 0), timeout=limit
            )
        except Exception as exc:  # noqa: BLE001  (paramiko raises several kinds: all mean no tunnel)
            raise ConnectionFailed(
                f"cannot reach {address}:{port} through SSH to {self.endpoint}: {_reason(exc)}",
                host=self.host.name,
            ) from None
        channel.settimeout(limit)
        return channel

    def hold(self, argv: list[str], timeout: float, until: bytes = b"") -> Held:
        self._check_stalled()
        if self._client is None:
            self.open()
        secret = become_password(self.host)
        command = shell_command(
            argv, become=self.host.become, become_user=self.host.become_user, password=bool(secret)
        )
        try:
            channel = self._client.get_transport().open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.set_combine_stderr(True)
            channel.exec_command(command)
            if secret:
                channel.sendall(secret)
            reader = channel.makefile("rb")
        except Exception as exc:  # noqa: BLE001  (paramiko.SSHException and friends)
            raise ConnectionFailed(
                f"{self.endpoint}: SSH error: {_reason(exc)}", host=self.host.name
            ) from None
        try:
            pid = _first_line_or_exit(reader.readline, timeout, self.host.name, "lock", self.host)
            output = _read_until(reader.readline, until, self.host.name)
        except TimeoutError:
            channel.close()
            raise LockBusy(f"lock not granted within {timeout:g} s", host=self.host.name) from None
        except (LockBusy, ConnectionFailed, CommandFailed):
            channel.close()
            raise

        def release() -> None:
            try:
                if not self.stalled:
                    channel.shutdown_write()
                    channel.status_event.wait(timeout)  # bounded: a frozen host must not hang us
            except Exception:  # noqa: BLE001, S110  (a dead transport: the lock died with it)
                pass
            finally:
                channel.close()

        return Held(release, pid, output)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        for gateway in reversed(self._gateways):
            gateway.close()
        self._gateways = []


def connect_error(
    exc: BaseException, peer_banner: str | None, endpoint: str, timeout: float
) -> str:
    """One line naming ``endpoint`` and why connecting failed.

    paramiko's own words are often about its state, not the cause (a banner that never came
    surfaces as "No existing session" when the negotiation wait ends first), so the cause is
    read from what the peer sent: ``peer_banner`` "" is a TCP connection without an SSH banner,
    None no TCP connection (or not known).
    """
    if peer_banner == "":
        if isinstance(exc, (EOFError, ConnectionResetError)) or "reset" in str(exc).lower():
            return f"{endpoint}: connection closed before the SSH protocol banner"
        return f"{endpoint}: SSH protocol banner not received within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {endpoint}: connection refused"
    if isinstance(exc, TimeoutError):
        return f"cannot connect to {endpoint}: connection timed out after {timeout:g} s"
    return f"cannot connect to {endpoint}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    """An exception as one line of words (paramiko's can be empty or span lines)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return " ".join(str(exc).split()) or type(exc).__name__


def connect(host: HostLike, options: ConnectOptions) -> Connection:
    """A connection for ``host`` (not yet opened for SSH; opened on first use)."""
    if host.connection == "local":
        return LocalConnection(host, options)
    if host.connection in ("docker", "podman", "kubectl"):
        from remediate.remote.exec_connection import connect_container

        return connect_container(host, options)
    if host.connection == "redis":
        from remediate.remote.redis_protocol import RedisProtocolConnection

        return RedisProtocolConnection(host, options)
    if host.connection not in ("ssh", "smart", "paramiko"):
        raise CommandFailed(
            f"unsupported ansible_connection {host.connection!r} (ssh or local)", host=host.name
        )
    become_password(host)  # an unsupported become method fails the host before it is contacted
    return SSHConnection(host, options)
