"""Gather benchmark: `remediate`'s gather vs plain parallel paramiko `cat`, on the real SSH fleet.

    sudo .venv/bin/python bench/gather_bench.py [--hosts 50] [--runs 5]

Starts a fleet of namespaced sshd hosts (tests/fleet.py), then times, in the same run:
  baseline  50 paramiko threads: connect, one `cat` of the same files, read everything
  gather    remediate.engine.fanout.run_on_hosts + remediate.remote.gather.gather (bytes, sha256, mode, owner)
and prints medians and the ratio. No assertions: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from remediate.engine.fanout import run_on_hosts
from remediate.inventory.loader import load_inventory
from remediate.remote.connection import ConnectOptions
from remediate.remote.gather import gather
from tests.fleet import Fleet

PATHS = [
    "/etc/redis/redis.conf",
    "/etc/rabbitmq/rabbitmq.conf",
    "/etc/default/rabbitmq-server",
    "/srv/app/celeryconfig.py",
]


def baseline(fleet: Fleet) -> float:
    """bench/paramiko_floor.py's sessions (the fleet benchmark's floor), in this process."""
    import paramiko
    from paramiko_floor import read_managed_files

    known_hosts = paramiko.HostKeys(str(fleet.known_hosts))
    key = paramiko.PKey.from_path(str(fleet.client_key))

    def one(address: str) -> int:
        return read_managed_files(address, key, known_hosts, 10, tuple(PATHS))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        sizes = list(pool.map(one, [h.address for h in fleet.hosts]))
    assert all(sizes), "baseline read nothing"
    return time.perf_counter() - start


def remediate_gather(hosts: list) -> float:
    start = time.perf_counter()
    outcomes = run_on_hosts(hosts, lambda c: gather(c, PATHS), ConnectOptions(), forks=50)
    elapsed = time.perf_counter() - start
    bad = [o for o in outcomes if not o.ok]
    assert not bad, bad[0]
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with Fleet(args.hosts, subnet=9) as fleet:
        os.environ["HOME"] = str(fleet.client_home)
        for host in fleet.hosts:
            app = host.path("/srv/app/celeryconfig.py")
            app.parent.mkdir(parents=True, exist_ok=True)
            app.write_text("broker_url = 'redis://localhost:6379/0'\n")
        inventory = fleet.base / "hosts.ini"
        inventory.write_text(fleet.inventory())
        hosts = list(load_inventory([inventory]).hosts.values())
        base, ours = [], []
        for _ in range(args.runs):  # interleaved so both see the same machine load
            base.append(baseline(fleet))
            ours.append(remediate_gather(hosts))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"gather of {len(PATHS)} files from {args.hosts} hosts, median of {args.runs} runs")
    print(f"  baseline (paramiko connect + cat)   {b:6.2f} s")
    print(f"  remediate gather                    {o:6.2f} s   {o / b:4.2f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
