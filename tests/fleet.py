"""A fleet of real SSH hosts on one machine, for tests and benchmarks.

Each host is the machine's own OpenSSH ``sshd`` running inside private mount, UTS and
PID namespaces (``unshare -m -u -p``: like a real machine, a host sees only its own
processes), listening on its own loopback address
127.0.S.N, with private copies of the directories the tool manages bind-mounted
over the real ones. A host can run a real ``redis-server`` on its address.

    with Fleet(3, redis=True) as fleet:
        fleet.hosts[0].path("/etc/redis/redis.conf").read_bytes()

By hand:  python -m tests.fleet start 5 --redis   (prints an inventory; Ctrl-C stops)
Needs root, /usr/sbin/sshd, unshare and nsenter (util-linux).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

SSHD = "/usr/sbin/sshd"

#: Directories each host gets a private copy of: (path on the host, seed it from the machine?)
PRIVATE_DIRS: tuple[tuple[str, bool], ...] = (
    ("/etc/redis", True),
    ("/etc/rabbitmq", True),
    ("/etc/default", True),
    ("/etc/security", True),
    ("/etc/systemd/system", False),
    ("/srv", False),
    ("/var/lib/remediate", False),
    ("/var/lib/redis", False),
    ("/var/log/redis", False),
    ("/run/redis", False),
    ("/var/lib/rabbitmq", False),
    ("/var/log/rabbitmq", False),
    ("/root", False),
    ("/tmp", False),  # last: mounted earlier it would hide a fleet under /tmp
)
#: Single files each host gets a private copy of (bind-mounted over the machine's).
PRIVATE_FILES = ("/etc/hosts",)


#: What a handler runs on a test host instead of `systemctl restart redis-server`.
#: Whether a pid still runs: the host's PID 1 (sleep) never reaps, so an exited server stays a zombie.
ALIVE = """alive() { kill -0 "$1" 2>/dev/null && read -r _ _ s _ < "/proc/$1/stat" && [ "$s" != Z ]; }
"""

RESTART_REDIS = (
    ALIVE.replace("{", "{{").replace("}", "}}")
    + """pid=$(cat /run/redis/redis-server.pid 2>/dev/null)
if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
  while alive "$pid"; do sleep 0.05; done
fi
exec redis-server /etc/redis/redis.conf --daemonize yes --bind {address} \\
  --pidfile /run/redis/redis-server.pid --dir /var/lib/redis --logfile /var/log/redis/redis-server.log
"""
)


#: Starts the host's RabbitMQ node and waits until it runs (Debian's scripts su to rabbitmq).
START_RABBITMQ = """rabbitmq-server -detached >/dev/null 2>&1
rabbitmqctl -q wait /var/lib/rabbitmq/mnesia/rabbit@{name}.pid --timeout 90 >/dev/null 2>&1 || exit 1
rabbitmqctl -q await_startup --timeout 90 >/dev/null
"""


class FleetError(RuntimeError):
    """The fleet could not start: tests that need it must fail, not skip."""


def require_fleet_support() -> None:
    missing = [
        tool
        for tool in (SSHD, "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/ssh-keygen")
        if not os.path.exists(tool)
    ]
    if os.geteuid() != 0:
        raise FleetError("the SSH test fleet needs root (mount namespaces)")
    if missing:
        raise FleetError(
            f"the SSH test fleet needs {', '.join(missing)} (apt-get install openssh-server)"
        )


@dataclass
class FleetHost:
    index: int
    name: str
    address: str
    dir: Path
    host_key: Path | None = None
    sshd: subprocess.Popen[bytes] | None = None  # the `unshare` keeping the namespaces
    ns: str = ""
    init: int = 0  # pid (in the machine's namespace) of the host's PID 1

    def path(self, remote: str) -> Path:
        """The controller-side path of ``remote`` as this host sees it."""
        if remote in PRIVATE_FILES:
            return self.dir / remote.lstrip("/")
        for private, _ in PRIVATE_DIRS:
            if remote == private or remote.startswith(private + "/"):
                return self.dir / private.lstrip("/") / remote[len(private) :].lstrip("/")
        raise ValueError(f"{remote} is not private to the test host")

    def exec(
        self, argv: list[str], check: bool = True, timeout: float = 60, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` inside this host's namespaces (not through SSH)."""
        if not self.init:
            raise FleetError(f"{self.name} is not running")
        return subprocess.run(
            ["nsenter", "-t", str(self.init), "-m", "-u", "-p", "--", *argv],
            check=check,
            capture_output=True,
            timeout=timeout,
            input=input,
        )

    def proc(self, pid: int) -> Path:
        """/proc/<pid> of a process of this host, by its pid as the host sees it."""
        return Path(f"/proc/{self.init}/root/proc/{pid}")

    # -- redis -----------------------------------------------------------------------
    def start_redis(self) -> None:
        self.exec(["sh", "/srv/fleet/restart-redis"])
        _wait_for_port(self.address, 6379, 10)

    def redis_pid(self) -> int | None:
        pidfile = self.path("/run/redis/redis-server.pid")
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            state = (self.proc(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None
        return None if state == "Z" else pid

    def stop_redis(self) -> None:
        if self.redis_pid():
            self.exec(
                [
                    "sh",
                    "-c",
                    ALIVE
                    + (
                        'pid=$(cat /run/redis/redis-server.pid); kill "$pid"; '
                        'while alive "$pid"; do sleep 0.05; done'
                    ),
                ]
            )

    # -- rabbitmq ----------------------------------------------------------------------
    def start_rabbitmq(self) -> None:
        """A real RabbitMQ node ``rabbit@<host>`` on this host's address (about 12 s)."""
        self.exec(["sh", "/srv/fleet/start-rabbitmq"], timeout=120)

    def stop_rabbitmq(self) -> None:
        self.exec(["sh", "-c", "rabbitmqctl -q stop >/dev/null 2>&1; true"], timeout=60)

    # -- sshd ------------------------------------------------------------------------
    def stop_sshd(self) -> None:
        """Stop this host's sshd and every SSH session in it (the host goes away; what else
        runs on it, redis-server for one, keeps running)."""
        if not self.ns:
            return
        sessions = [pid for pid in _pids_in_ns(self.ns) if _comm(pid) == "sshd"]
        for pid in sessions:
            _signal(pid, signal.SIGKILL)
        _wait_gone(sessions, 5)

    def start_sshd(self) -> None:
        """(Re)start sshd inside the running host."""
        self.exec(["sh", "-c", sshd_command(self) + f' >>"{self.dir}/sshd.log" 2>&1 </dev/null &'])

    def stop(self) -> None:
        """Stop everything that runs inside this host's namespace, then wait for it."""
        if not self.ns:
            return
        pids = _pids_in_ns(self.ns)
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        if not _wait_gone(pids, 10):
            for pid in _pids_in_ns(self.ns):
                _signal(pid, signal.SIGKILL)
            _wait_gone(pids, 5)
        if self.sshd is not None:
            try:
                self.sshd.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.sshd = None
        self.init = 0


def sshd_command(host: FleetHost) -> str:
    key_opt = f" -o HostKey={host.host_key}" if host.host_key else ""
    return (
        f"{SSHD} -D -e -o ListenAddress={host.address}:22 -o UsePAM=no -o PidFile=none "
        f"-o StrictModes=no -o MaxStartups=1000 -o MaxSessions=100 -o LogLevel=ERROR{key_opt}"
    )


HOSTS_PER_SUBNET = 250
MAX_HOSTS = 4 * HOSTS_PER_SUBNET


@dataclass
class Fleet:
    """``count`` SSH hosts on 127.0.<subnet>.1..count; a fleet of more than 250 hosts goes on
    over the next subnets (host 251 is 127.0.<subnet+1>.1), each claimed like the first."""

    count: int
    redis: bool = False
    subnet: int = 1
    base: Path | None = None
    hosts: list[FleetHost] = field(default_factory=list)
    client_home: Path = Path()

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_HOSTS:
            raise ValueError(f"a fleet has 1 to {MAX_HOSTS} hosts")
        self._own_base = self.base is None
        self._subnet_locks: list[Any] = []
        self.base = Path(self.base or tempfile.mkdtemp(prefix="remediate-fleet-", dir="/var/tmp"))
        self.client_home = self.base / "client"

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        require_fleet_support()
        self._claim_subnet()
        for subnet in self.subnets:
            reap_stale_hosts(subnet)
        os.makedirs("/run/sshd", exist_ok=True)
        for private, _ in PRIVATE_DIRS:
            os.makedirs(private, exist_ok=True)
        self._make_client()
        assert self.base is not None
        self.hosts = [
            FleetHost(i, f"host{i}", self.address(i), self.base / f"host{i}")
            for i in range(1, self.count + 1)
        ]
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(self._prepare, self.hosts))
        try:
            for host in self.hosts:
                self._spawn(host)
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(self._await, self.hosts))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(FleetHost.stop, self.hosts))
        if self._own_base and self.base and self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)
        for lock in self._subnet_locks:
            lock.close()  # releases the flock
        self._subnet_locks = []

    @property
    def subnets(self) -> range:
        """The third octets this fleet's hosts use (250 hosts per subnet)."""
        return range(
            self.subnet, self.subnet + (self.count + HOSTS_PER_SUBNET - 1) // HOSTS_PER_SUBNET
        )

    def address(self, index: int) -> str:
        """Host ``index``'s (1-based) loopback address."""
        subnet, last = divmod(index - 1, HOSTS_PER_SUBNET)
        return f"127.0.{self.subnet + subnet}.{last + 1}"

    def _claim_subnet(self) -> None:
        """Take 127.0.S.0/24 for this fleet: the preferred S, or the next one no other running
        fleet (another test run, a benchmark) holds. Only a claimed subnet's leftovers are reaped."""
        import fcntl

        os.makedirs("/run/remediate-fleet", exist_ok=True)
        needed = len(self.subnets)
        for first in [*range(self.subnet, 251 - needed), *range(1, self.subnet)]:
            handles = []
            for subnet in range(first, first + needed):
                handle = open(f"/run/remediate-fleet/subnet-{subnet}.lock", "w")  # noqa: SIM115 (held: the flock)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    handle.close()
                    break
                handles.append(handle)
            if len(handles) == needed:
                self._subnet_locks = handles
                self.subnet = first
                return
            for handle in handles:
                handle.close()
        raise FleetError("every 127.0.S.0/24 subnet is taken by a running fleet")

    def restart(self, host: FleetHost, host_key: Path | None = None) -> None:
        """(Re)start ``host``'s sshd, optionally with another host key (a "changed" key)."""
        host.stop_sshd()
        host.host_key = host_key
        host.start_sshd()
        _wait_for_port(host.address, 22, 15)

    # -- the controller side ---------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for a controller process: its HOME holds the key, known_hosts, config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "PYTEST_"))}
        env["HOME"] = str(self.client_home)
        env["NO_COLOR"] = "1"
        return env

    @property
    def known_hosts(self) -> Path:
        return self.client_home / ".ssh" / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.client_home / ".ssh" / "id_ed25519"

    def inventory(self, groups: dict[str, list[FleetHost]] | None = None, extra: str = "") -> str:
        """An INI inventory of the fleet (all hosts in group ``fleet`` unless told)."""
        groups = groups or {"fleet": self.hosts}
        lines = []
        for group, members in groups.items():
            lines.append(f"[{group}]")
            lines += [
                f"{h.name} ansible_host={h.address} ansible_user=root "
                f"ansible_ssh_private_key_file={self.client_key}"
                for h in members
            ]
            lines.append("")
        return "\n".join(lines) + extra

    # -- internals ----------------------------------------------------------------------
    def _make_client(self) -> None:
        ssh = self.client_home / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.client_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key)],
                check=True,
            )
        host_keys = machine_host_keys()
        if not host_keys:
            raise FleetError("no /etc/ssh/ssh_host_*_key.pub: run ssh-keygen -A")
        lines = [f"{self.address(i)} {key}" for i in range(1, self.count + 1) for key in host_keys]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def _prepare(self, host: FleetHost) -> None:
        for private, seed in PRIVATE_DIRS:
            target = host.path(private)
            if seed and os.path.isdir(private):
                shutil.copytree(private, target, symlinks=True, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
        ssh = host.path("/root/.ssh")
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "authorized_keys").write_bytes(self.client_key.with_suffix(".pub").read_bytes())
        host.path("/tmp").chmod(0o1777)
        tools = host.path("/srv/fleet")
        tools.mkdir(parents=True, exist_ok=True)
        (tools / "restart-redis").write_text(RESTART_REDIS.format(address=host.address))
        (tools / "start-rabbitmq").write_text(START_RABBITMQ.format(name=host.name))
        (tools / "restart-rabbitmq").write_text(
            "rabbitmqctl -q stop >/dev/null 2>&1\nexec sh /srv/fleet/start-rabbitmq\n"
        )
        hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
        host.path("/etc/hosts").write_text(f"{hosts}\n{host.address} {host.name}\n")
        octets = host.address.split(".")
        env = "\n".join(
            [
                f"NODENAME=rabbit@{host.name}",
                f"NODE_IP_ADDRESS={host.address}",
                "NODE_PORT=5672",
                f"DIST_PORT={30000 + 256 * int(octets[2]) + int(octets[3])}",
                f"ERL_EPMD_ADDRESS={host.address}",
                f"ERL_EPMD_PORT={40000 + 256 * int(octets[2]) + int(octets[3])}",
                f'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {{{",".join(octets)}}}"',
                f'CTL_ERL_ARGS="-kernel inet_dist_use_interface {{{",".join(octets)}}}"',
                "",
            ]
        )
        host.path("/etc/rabbitmq/rabbitmq-env.conf").write_text(env)
        host.path("/etc/rabbitmq/rabbitmq.conf").write_text(
            f"listeners.tcp.default = {host.address}:5672\n"
        )
        for private in ("/var/lib/rabbitmq", "/var/log/rabbitmq"):
            _chown_to(host.path(private), "rabbitmq")

    def _spawn(self, host: FleetHost) -> None:
        files = [f for f in PRIVATE_FILES if os.path.exists(f)]
        mounts = "".join(f'mount --bind "$1{private}" {private}\n' for private in files)
        mounts += "".join(f'mount --bind "$1{private}" {private}\n' for private, _ in PRIVATE_DIRS)
        script = (
            "set -e\n" + mounts + f"hostname {host.name}\n"
            f"{sshd_command(host)} </dev/null &\n"
            "exec sleep infinity\n"
        )  # PID 1 of the host: keeps its namespaces alive
        log = open(host.dir / "sshd.log", "ab")  # noqa: SIM115 (sshd writes to it after we return)
        host.sshd = subprocess.Popen(
            [
                "unshare",
                "-m",
                "-u",
                "-p",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "fleet-host",
                str(host.dir),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def _await(self, host: FleetHost) -> None:
        assert host.sshd is not None
        try:
            _wait_for_port(host.address, 22, 15, host.sshd)
        except FleetError:
            log = (host.dir / "sshd.log").read_text(errors="replace")[-2000:]
            raise FleetError(
                f"{host.name}: sshd did not start on {host.address}:22\n{log}"
            ) from None
        host.init = _child_of(host.sshd.pid)
        host.ns = os.readlink(f"/proc/{host.init}/ns/mnt")
        if self.redis:
            host.start_redis()


def _chown_to(path: Path, user: str) -> None:
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)


def machine_host_keys() -> list[str]:
    keys = []
    for pub in sorted(Path("/etc/ssh").glob("ssh_host_*_key.pub")):
        kind, blob, *_ = pub.read_text().split()
        keys.append(f"{kind} {blob}")
    return keys


def reap_stale_hosts(subnet: int) -> None:
    """Kill fleet hosts a crashed earlier run left listening on this subnet."""
    marker = f"ListenAddress=127.0.{subnet}."
    for pid in _all_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if (
            SSHD in cmdline and marker in cmdline
        ):  # sshd rewrites its title: "sshd: /usr/sbin/sshd -D ..."
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
            victims = _pids_in_ns(ns)
            for victim in victims:
                _signal(victim, signal.SIGKILL)
            _wait_gone(victims, 5)


def _child_of(pid: int) -> int:
    """The first child of ``pid`` (unshare --fork's child: the namespace's PID 1)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise FleetError(f"unshare {pid} started no host")


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _pids_in_ns(ns: str) -> list[int]:
    pids = []
    for pid in _all_pids():
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == ns:
                pids.append(pid)
        except OSError:
            pass
    return pids


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return True
        time.sleep(0.02)
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":  # a zombie child of ours: reap it
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def _wait_for_port(
    address: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise FleetError(f"nothing listens on {address}:{port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fleet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["start"])
    parser.add_argument("count", type=int)
    parser.add_argument("--redis", action="store_true", help="run a redis-server in every host")
    parser.add_argument("--subnet", type=int, default=1)
    args = parser.parse_args(argv)
    fleet = Fleet(args.count, redis=args.redis, subnet=args.subnet)
    with fleet:
        inventory = fleet.base / "inventory.ini"  # type: ignore[operator]
        inventory.write_text(fleet.inventory())
        print(f"{args.count} hosts up. HOME={fleet.client_home}")
        print(f"  HOME={fleet.client_home} remediate inventory -i {inventory} --graph")
        print("Ctrl-C stops the fleet.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
