"""RMQ008: RabbitMQ's ``consumer_timeout`` against the Celery tasks that hold a delivery.

A delivery not acknowledged within ``consumer_timeout`` (milliseconds; default 1800000, 30 min,
since 3.8.17) closes the channel with PRECONDITION_FAILED, and the worker reconnects or exits.
With ``task_acks_late`` a task is acknowledged after it ends, so the longest task
(``task_time_limit``, else ``task_soft_time_limit``, in seconds) must end before the timeout.
The node's value merges rabbitmq.conf and conf.d/*.conf (``x-consumer-timeout`` per queue and
advanced.config are not read). ETA/countdown tasks are held unacknowledged until they run, but
no Celery setting states their horizon, so RMQ008 does not guess one.

From RabbitMQ 4.3 classic queues and streams never evaluate consumer timeouts: with the node's
version known (``rabbitmq_version``) to be 4.3 or later, only a Celery file whose
``task_default_queue_type`` is ``quorum`` is judged. The default (``deps/rabbit/Makefile``) is
1800000 from 3.8.17, 900000 in 3.8.15 and 3.8.16, and none before 3.8.15; an unknown version is
taken as a current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import AMQP_SCHEMES, read_broker, read_celery_file
from remediate.rules.rabbitmq_rules import node_config, version_tuple

DEFAULT_CONSUMER_TIMEOUT_MS = 1_800_000

RMQ008 = RuleInfo(
    "RMQ008",
    "rabbitmq",
    "warning",
    "consumer_timeout at or below the Celery task time limit",
    "RabbitMQ closes the channel of a consumer that holds a delivery unacknowledged longer than "
    "consumer_timeout (milliseconds, default 30 min since 3.8.17; quorum queues only from "
    "4.3). With task_acks_late a task is acknowledged when it ends, so a task allowed to run "
    "longer loses its channel: PRECONDITION_FAILED, the worker reconnects (or exits) and the "
    "task runs again. ETA/countdown tasks are held unacknowledged until they run, too.",
    "raise consumer_timeout above the longest task time limit and ETA horizon (or set "
    "x-consumer-timeout on the Celery queues)",
)
RULE_INFOS = (RMQ008,)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def effective_consumer_timeout(docs: Sequence[Document]) -> tuple[int | None, Document | None]:
    """(consumer_timeout in ms the merged files give, the document that sets it)."""
    value, source = None, None
    for doc in node_config(docs):
        written = doc.settings().get("consumer_timeout")
        if written is not None:
            try:
                value, source = int(str(written).strip()), doc
            except ValueError:
                value, source = None, None
    return value, source


def consumer_timeout_below_tasks(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    nodes = node_config(docs)
    if not nodes:
        return []
    version = version_tuple(facts.rabbitmq_version)
    written, source = effective_consumer_timeout(nodes)
    if written is None and version is not None and version < (3, 8, 15):
        return []  # no default timeout yet
    default = (
        900_000 if version is not None and version < (3, 8, 17) else DEFAULT_CONSUMER_TIMEOUT_MS
    )
    timeout_ms = default if written is None else written
    findings = []
    for doc in docs:
        if doc.kind != "celery":
            continue
        cf = read_celery_file(doc, facts)
        if read_broker(cf).scheme not in AMQP_SCHEMES or cf.value("task_acks_late") is not True:
            continue
        queue_type = cf.value("task_default_queue_type")
        if version is not None and version >= (4, 3, 0) and queue_type != "quorum":
            continue
        limits = [(name, cf.value(name)) for name in ("task_time_limit", "task_soft_time_limit")]
        stated = [(name, value) for name, value in limits if _number(value) and value > 0]
        if not stated:
            continue
        name, limit = stated[0]
        if timeout_ms > limit * 1000:
            continue
        task = f"{cf.spelled(name)} = {limit:g} s with task_acks_late ({cf.path})"
        if source is not None:
            line = source.line_of("consumer_timeout")
            findings.append(
                finding(
                    RMQ008,
                    source.path,
                    line,
                    f"consumer_timeout = {timeout_ms} ms ({timeout_ms / 1000:g} s) but {task}: a "
                    "task that runs that long loses its channel and runs again",
                    f"consumer_timeout above {int(limit * 1000)} (ms)",
                )
            )
        else:
            line = cf.line(name)
            findings.append(
                finding(
                    RMQ008,
                    cf.path,
                    line,
                    f"{task} but RabbitMQ's default consumer_timeout is {timeout_ms / 1000:g} s "
                    f"({nodes[0].path} does not set it): a task that runs that long loses its "
                    "channel and runs again",
                    f"consumer_timeout above {int(limit * 1000)} (ms) in {nodes[0].path}",
                    column=cf.column(line, cf.spelled(name)),
                )
            )
    return findings
