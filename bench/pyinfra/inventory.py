"""Inventory of the pyinfra peer: the fleet bench/fleet_bench.py started, from its environment.

FLEET_BENCH_HOSTS   comma-separated host addresses
FLEET_BENCH_KEY     the fleet's client private key
FLEET_BENCH_KNOWN_HOSTS  the fleet's known_hosts (host keys are checked strictly)
"""

import os

fleet = (
    os.environ["FLEET_BENCH_HOSTS"].split(","),
    {
        "ssh_user": "root",
        "ssh_key": os.environ["FLEET_BENCH_KEY"],
        "ssh_known_hosts_file": os.environ["FLEET_BENCH_KNOWN_HOSTS"],
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
    },
)
