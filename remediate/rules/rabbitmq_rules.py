"""RabbitMQ rules over rabbitmq.conf and conf.d/*.conf: the server heartbeat (RMQ001, RMQ002),
lines RabbitMQ may refuse (RMQ006) and, over a node's merged configuration, the runtime rules
(RMQ004, RMQ005). RMQ003 (``ulimit -n`` in /etc/default/rabbitmq-server) and RMQ007 (a unit's
LimitNOFILE) are in limits_rules with the other file-descriptor rules.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding

DEFAULT_HEARTBEAT = 60
MIN_NOFILE = 65536

RMQ001 = RuleInfo(
    "RMQ001",
    "rabbitmq",
    "warning",
    "server heartbeat 0 or above 60",
    "The server only suggests a heartbeat (default 60 s; 580 before 3.5.5) and the client "
    "decides: py-amqp takes the smaller value, or the larger when either side is 0. Server 0 "
    "disables heartbeats for clients that also send 0 (Celery still negotiates its 120); above "
    "60, dead connections linger that long. A file change needs a node restart.",
    "heartbeat = 60",
)
RMQ002 = RuleInfo(
    "RMQ002",
    "rabbitmq",
    "warning",
    "server heartbeat below 5 s",
    "Heartbeats below 5 s give false positives: busy or briefly paused connections are closed "
    "as dead.",
    "heartbeat between 10 and 60",
)
RMQ004 = RuleInfo(
    "RMQ004",
    "rabbitmq",
    "warning",
    "running beam.smp open-file limit below 65536",
    "Every connection and queue file needs a descriptor; the running beam.smp's limit is the "
    "truth. ulimit in /etc/default/rabbitmq-server is ignored under systemd: the unit's "
    "LimitNOFILE decides (Debian 12's unit sets 65536), and the Erlang VM's port limit is fixed "
    "at node start.",
    "drop-in /etc/systemd/system/rabbitmq-server.service.d/limits.conf with [Service] "
    "LimitNOFILE=65536, daemon-reload and restart (above 65536 raise ERL_MAX_PORTS too)",
)
RMQ005 = RuleInfo(
    "RMQ005",
    "rabbitmq",
    "warning",
    "live heartbeat differs from the file: restart pending",
    "A rabbitmq.conf change needs a node restart; until then the node runs its old heartbeat "
    "(application:get_env(rabbit, heartbeat)). The effective file value merges rabbitmq.conf "
    "and conf.d/*.conf in order; advanced.config, merged on top, is not read by this rule.",
    "restart the node (or rabbitmqctl eval 'application:set_env(rabbit, heartbeat, N).' for "
    "new connections until then)",
)
RMQ006 = RuleInfo(
    "RMQ006",
    "rabbitmq",
    "error",
    "a line RabbitMQ refuses or misreads",
    "A quoted value must not carry a trailing comment, a quote must be closed, and blanks "
    "after a value on a last line without a line break stay in the value.",
    "fix the line",
)
RMQ009 = RuleInfo(
    "RMQ009",
    "rabbitmq",
    "info",
    "a key the running RabbitMQ version ignores",
    "RabbitMQ 4.0 removed classic queue mirroring: mirroring_sync_batch_size and "
    "mirroring_sync_max_throughput (and ha-* policies) do nothing on 4.x. From 4.3.0 Khepri is "
    "the only metadata store and the cluster_partition_handling keys are accepted but have no "
    "effect (4.3.0 release notes). Judged only when the node's version is known "
    "(rabbitmq_version; lint --rabbitmq-version).",
    "remove the key; see the release notes of the running version",
)
RULE_INFOS = (RMQ001, RMQ002, RMQ004, RMQ005, RMQ006, RMQ009)

#: key prefix -> (first version that ignores it, why)
IGNORED_KEYS: dict[str, tuple[tuple[int, int, int], str]] = {
    "mirroring_sync_batch_size": ((4, 0, 0), "classic queue mirroring was removed in 4.0"),
    "mirroring_sync_max_throughput": ((4, 0, 0), "classic queue mirroring was removed in 4.0"),
    "cluster_partition_handling": (
        (4, 3, 0),
        ("4.3.0 removed Mnesia: partition handling keys are accepted but have no effect"),
    ),
}


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _column(doc: Any, line: int | None) -> int | None:
    if line is None:
        return None
    text = doc.text(line - 1)
    return len(text) - len(text.lstrip(" \t")) + 1


def server_heartbeat(doc: Any) -> list[Finding]:
    value = doc.settings().get("heartbeat")
    heartbeat = _int(value) if value is not None else None
    if heartbeat is None:
        return []
    line = doc.line_of("heartbeat")
    if heartbeat == 0:
        return [
            finding(
                RMQ001,
                doc.path,
                line,
                "heartbeat = 0: the server disables heartbeats for clients that send 0 "
                "too (a Celery worker still negotiates its own 120 s)",
                column=_column(doc, line),
            )
        ]
    if heartbeat > DEFAULT_HEARTBEAT:
        return [
            finding(
                RMQ001,
                doc.path,
                line,
                f"heartbeat = {heartbeat}: clients that follow the server notice a dead "
                f"connection only after {heartbeat} s or more",
                column=_column(doc, line),
            )
        ]
    if heartbeat < 5:
        return [
            finding(
                RMQ002,
                doc.path,
                line,
                f"heartbeat = {heartbeat}: below 5 s heartbeats close healthy connections",
                column=_column(doc, line),
            )
        ]
    return []


def refused_lines(doc: Any) -> list[Finding]:
    return [
        finding(RMQ006, doc.path, problem.line, problem.reason, column=problem.column)
        for problem in doc.problems
    ]


def version_tuple(version: str | None) -> tuple[int, int, int] | None:
    """``"4.3.0"`` -> (4, 3, 0); None when it cannot be read."""
    parts = re.findall(r"\d+", version or "")[:3]
    if not parts:
        return None
    numbers = [int(part) for part in parts] + [0, 0]
    return numbers[0], numbers[1], numbers[2]


def ignored_keys(doc: Any, facts: Facts) -> list[Finding]:
    version = version_tuple(facts.rabbitmq_version)
    if version is None:
        return []
    findings = []
    for key in doc.settings():
        for prefix, (since, why) in IGNORED_KEYS.items():
            if (key == prefix or key.startswith(prefix + ".")) and version >= since:
                line = doc.line_of(key)
                findings.append(
                    finding(
                        RMQ009,
                        doc.path,
                        line,
                        f"{key} does nothing on RabbitMQ {facts.rabbitmq_version}: {why}",
                        column=_column(doc, line),
                    )
                )
    return findings


def check_rabbitmq(doc: Document, facts: Facts) -> list[Finding]:
    return refused_lines(doc) + server_heartbeat(doc) + ignored_keys(doc, facts)


# ---------------------------------------------------------------- the node's merged config


def in_conf_d(path: str) -> bool:
    return "/conf.d/" in path.replace("\\", "/")


def node_config(docs: Sequence[Document]) -> list[Document]:
    """The rabbitmq documents of a node in the order RabbitMQ loads them: rabbitmq.conf, then
    conf.d/*.conf alphabetically (a later file wins)."""
    rabbit = [doc for doc in docs if doc.kind == "rabbitmq"]
    main = [doc for doc in rabbit if not in_conf_d(doc.path)]
    extra = sorted(
        (doc for doc in rabbit if in_conf_d(doc.path)), key=lambda doc: posixpath.basename(doc.path)
    )
    return main + extra


def effective_heartbeat(docs: Sequence[Document]) -> tuple[int | None, Document | None]:
    """(heartbeat the merged files give, the document that sets it); (None, None) when none
    does (the default, 60, applies) or the value is not a number."""
    value, source = None, None
    for doc in node_config(docs):
        written = doc.settings().get("heartbeat")
        if written is not None:
            value, source = _int(written), doc
    return (value, source) if value is not None else (None, None)


def check_rabbitmq_node(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    """RMQ004 and RMQ005, once per node, on its main rabbitmq document."""
    ordered = node_config(docs)
    if not ordered:
        return []
    main = ordered[0]
    findings = []
    soft = facts.beam_nofile_soft
    if soft is not None and soft < MIN_NOFILE:
        findings.append(
            finding(
                RMQ004,
                main.path,
                None,
                f"the running beam.smp may open only {soft} files (soft limit); "
                f"RabbitMQ needs at least {MIN_NOFILE}",
            )
        )
    live = facts.rabbitmq_live_heartbeat
    if live is not None and facts.rabbitmq_running is not False:
        written, source = effective_heartbeat(ordered)
        wanted = DEFAULT_HEARTBEAT if written is None else written
        if live != wanted:
            doc = source or main
            line = doc.line_of("heartbeat") if source else None
            origin = (
                f"{doc.path} sets heartbeat = {wanted}"
                if source
                else f"the files leave heartbeat at its default {wanted}"
            )
            findings.append(
                finding(
                    RMQ005,
                    doc.path,
                    line,
                    f"the running node's heartbeat is {live} but {origin}: a restart is pending",
                    column=_column(doc, line),
                )
            )
    return findings
