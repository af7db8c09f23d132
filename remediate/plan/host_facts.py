"""The host-side facts the rules get beyond the files (pure): running workers, broker versions,
Redis memory, and the network path's idle limit from host variables; and the workers as plain
data for ``facts`` / JSON.

Host variables:

* ``remediate_path_idle_timeout``: seconds (``350``), or a preset for a common middlebox:
  ``aws-nlb`` 350 (NLB idle timeout, fixed for TLS listeners), ``azure-redis`` 600 (Azure Cache
  for Redis; counts data only, so it also sets ``path_counts_data``), ``azure-lb`` 240 (Azure
  Load Balancer default), ``gcp-nat`` 1200 (Cloud NAT established TCP).
* ``remediate_path_counts_data``: true when a proxy on the path counts data only (HAProxy,
  classic load balancers): TCP keepalive probes do not keep a flow open there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediate.errors import RemediateError
from remediate.model.facts import HostFacts
from remediate.model.workers import SocketFact, WorkerFact

#: name -> (idle limit in seconds, counts data only)
PATH_PRESETS: dict[str, tuple[int, bool]] = {
    "aws-nlb": (350, False),
    "azure-redis": (600, True),
    "azure-lb": (240, False),
    "gcp-nat": (1200, False),
}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def path_idle(variables: Mapping[str, Any], host: str = "") -> tuple[int | None, bool]:
    """(``path_idle_timeout``, ``path_counts_data``) from the host's variables; a value that is
    neither seconds nor a preset is an error naming the variable."""
    raw = variables.get("remediate_path_idle_timeout")
    counts = variables.get("remediate_path_counts_data")
    limit, preset_counts = None, False
    if raw is not None and raw != "":
        text = str(raw).strip().lower()
        if text in PATH_PRESETS:
            limit, preset_counts = PATH_PRESETS[text]
        elif text.isdigit() and int(text) > 0 and not isinstance(raw, bool):
            limit = int(text)
        else:
            presets = ", ".join(f"{k} ({v[0]})" for k, v in PATH_PRESETS.items())
            raise RemediateError(
                f"remediate_path_idle_timeout = {raw!r} is neither seconds nor a preset "
                f"({presets})",
                host=host or None,
            )
    if counts is None:
        return limit, preset_counts
    word = str(counts).strip().lower()
    if word not in _TRUE | _FALSE:
        raise RemediateError(
            f"remediate_path_counts_data = {counts!r} is not true or false", host=host or None
        )
    return limit, word in _TRUE


def rule_facts(facts: HostFacts, variables: Mapping[str, Any], host: str = "") -> dict[str, Any]:
    """The ``rules.Facts`` fields the host's runtime and variables give, beyond the files'."""
    redis = facts.redis if facts.redis is not None and facts.redis.read else None
    rabbit = facts.rabbitmq if facts.rabbitmq is not None and facts.rabbitmq.running else None
    limit, counts = path_idle(variables, host)
    return {
        "workers": facts.workers,
        "rabbitmq_version": rabbit.version or None if rabbit else None,
        "redis_version": redis.version or None if redis else None,
        "redis_used_memory": redis.used_memory if redis else None,
        "path_idle_timeout": limit,
        "path_counts_data": counts,
    }


def _socket(socket: SocketFact) -> dict[str, Any]:
    return {
        "peer": socket.peer,
        "local": socket.local,
        "keepalive": socket.keepalive_state,
        "timer": socket.timer,
    }


def worker_summary(worker: WorkerFact) -> dict[str, Any]:
    """One worker as plain data (the ``workers`` entries of ``facts --json``)."""
    versions = worker.versions
    supervisor = worker.supervisor
    return {
        "pid": worker.pid,
        "uid": worker.uid,
        "user": worker.user,
        "cwd": worker.cwd,
        "argv": list(worker.argv),
        "app": worker.app,
        "pool": worker.pool,
        "concurrency": worker.concurrency,
        "queues": list(worker.queues),
        "without_heartbeat": worker.without_heartbeat,
        "broker_url": worker.broker_url,
        "interpreter": worker.interpreter,
        "exe": worker.exe,
        "site_packages": list(worker.site_packages),
        "versions": {
            "celery": versions.celery,
            "kombu": versions.kombu,
            "redis": versions.redis,
            "amqp": versions.amqp,
            "librabbitmq": versions.librabbitmq,
        },
        "connections_read": worker.connections_read,
        "broker_connections": [_socket(s) for s in worker.sockets],
        "other_connections": [_socket(s) for s in worker.connections if s not in worker.sockets],
        "supervisor": {
            "kind": supervisor.kind,
            "name": supervisor.name,
            "restart": supervisor.restart,
            "files": [path for path, _ in supervisor.files],
            "read": supervisor.read,
        },
    }


__all__ = ["PATH_PRESETS", "path_idle", "rule_facts", "worker_summary"]
