"""The floor any SSH tool pays: parallel paramiko sessions that connect and `cat` the managed files.

    python bench/paramiko_floor.py --key KEY --known-hosts FILE [--forks 50] ADDRESS...

Each session connects as root with KEY (host key checked against FILE), runs one `cat` of the
four files `remediate`'s shipped playbook manages, reads the whole reply and closes. A thread
pool as wide as remediate's default `--forks` (50). known_hosts is parsed once and each
session gets its host's keys: paramiko's ``load_host_keys`` per session would parse every
line (3 keys per host) for every host, which grows with the square of the fleet (at 200
hosts it cost over a minute here), and a floor must not pay that. For the same reason the
floor uses the transport settings remediate uses (a floor must not be slower than the tool
it measures): the private key is parsed once, AES-GCM is offered first (paramiko checks a
CTR+HMAC packet's MAC in Python), and TCP_NODELAY is set (paramiko leaves Nagle's algorithm
on, which costs a delayed ACK per small request). Exits 1 (naming the host) if any host
failed or sent nothing. fleet_bench.py runs it as a subprocess, like every other tool.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import paramiko

MANAGED_PATHS = (
    "/etc/redis/redis.conf",
    "/etc/rabbitmq/rabbitmq.conf",
    "/etc/systemd/system/rabbitmq-server.service.d/limits.conf",
    "/srv/app/celeryconfig.py",
)


class AeadFirstTransport(paramiko.Transport):
    _preferred_ciphers = (
        *(c for c in paramiko.Transport._preferred_ciphers if c.endswith("-gcm@openssh.com")),
        *(c for c in paramiko.Transport._preferred_ciphers if not c.endswith("-gcm@openssh.com")),
    )


def read_managed_files(
    address: str,
    key: paramiko.PKey,
    known_hosts: paramiko.HostKeys,
    timeout: float,
    paths: tuple[str, ...] = MANAGED_PATHS,
) -> int:
    """Connect, `cat` the files (a missing one is skipped), return the bytes read."""
    client = paramiko.SSHClient()
    accepted = client.get_host_keys()
    for key_type, host_key in (known_hosts.lookup(address) or {}).items():
        accepted.add(address, key_type, host_key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        sock = socket.create_connection((address, 22), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(
            address,
            username="root",
            pkey=key,
            timeout=timeout,
            sock=sock,
            allow_agent=False,
            look_for_keys=False,
            transport_factory=AeadFirstTransport,
        )
        command = "cat " + " ".join(shlex.quote(p) for p in paths) + " 2>/dev/null"
        _, stdout, _ = client.exec_command(command, timeout=timeout)
        return len(stdout.read())
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS")
    parser.add_argument("--key", required=True, help="private key file")
    parser.add_argument("--known-hosts", required=True, help="known_hosts file")
    parser.add_argument(
        "--forks", type=int, default=50, help="sessions at once (remediate's default)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="connect and read timeout, seconds"
    )
    args = parser.parse_args(argv)

    known_hosts = paramiko.HostKeys(args.known_hosts)
    key = paramiko.PKey.from_path(args.key)

    def one(address: str) -> tuple[str, int | str]:
        try:
            return address, read_managed_files(address, key, known_hosts, args.timeout)
        except (
            OSError,
            EOFError,
            paramiko.SSHException,
        ) as exc:  # reported, never silently counted
            return address, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=min(args.forks, len(args.addresses))) as pool:
        results = list(pool.map(one, args.addresses))
    bad = [(address, size) for address, size in results if not isinstance(size, int) or size == 0]
    for address, reason in bad:
        print(f"{address}: {reason or 'read nothing'}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
