"""The health checks that gate the next batch, against real servers: rabbitmq_running (node up,
its whole cluster running, no local alarm) and redis_ping (a replica's link to its master up)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from remediate.engine.handlers import health_check
from remediate.inventory.loader import Host
from remediate.model.facts import RedisEndpoint
from remediate.model.timeouts import Timeouts
from remediate.remote.connection import ConnectOptions, SSHConnection
from tests.conftest import _subnet
from tests.fleet import Fleet, FleetHost
from tests.scenario import redis_client


def connection(fleet: Fleet, host: FleetHost) -> SSHConnection:
    inventory_host = Host(
        host.name,
        {
            "ansible_host": host.address,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(fleet.client_key),
        },
    )
    return SSHConnection(inventory_host, ConnectOptions(known_hosts=str(fleet.known_hosts)))


@pytest.fixture(scope="module")
def rabbit_node() -> Iterator[Fleet]:
    with Fleet(1, subnet=_subnet(6)) as fleet:
        fleet.hosts[0].start_rabbitmq()
        yield fleet


def test_rabbitmq_running_fails_while_the_node_has_an_alarm(rabbit_node: Fleet) -> None:
    host = rabbit_node.hosts[0]
    conn = connection(rabbit_node, host)
    timeouts = replace(Timeouts(), check_wait=20.0)
    try:
        ok, detail = health_check(conn, "rabbitmq_running", None, timeouts)
        assert ok, detail
        assert detail.endswith("1 of 1 running")  # cluster_status JSON was read, not skipped
        host.exec(["rabbitmqctl", "-q", "set_vm_memory_high_watermark", "absolute", "1"])
        ok, detail = health_check(conn, "rabbitmq_running", None, timeouts)
        assert not ok and "local alarms" in detail
    finally:
        host.exec(["rabbitmqctl", "-q", "set_vm_memory_high_watermark", "0.4"], check=False)
        conn.close()


def test_redis_ping_fails_for_a_replica_whose_link_is_down(fleet: Fleet) -> None:
    host = fleet.hosts[0]
    client = redis_client(host)
    password = client.config_get("requirepass").get("requirepass") or None
    endpoint = RedisEndpoint(host.address, 6379, password)
    conn = connection(fleet, host)
    timeouts = replace(Timeouts(), check_wait=2.0)
    try:
        ok, detail = health_check(conn, "redis_ping", endpoint, timeouts)
        assert ok, detail
        client.execute_command("REPLICAOF", "127.0.0.1", "1")  # a master that never answers
        ok, detail = health_check(conn, "redis_ping", endpoint, timeouts)
        assert not ok
        assert "replica of 127.0.0.1:1: master_link_status is down" in detail
    finally:
        client.execute_command("REPLICAOF", "NO", "ONE")
        conn.close()
