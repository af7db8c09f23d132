"""Keys whose value RabbitMQ's schema reads as an integer: any other value makes cuttlefish
refuse the whole rabbitmq.conf (the node does not start).

From ``{mapping, KEY, ..., [{datatype, integer}]}`` in rabbit.schema of RabbitMQ 3.10.8
(Debian 12's ``rabbitmq-server``: plugins/rabbit-3.10.8/priv/schema/rabbit.schema), kept to
the connection, listener and timing keys this tool's rules are about, whose datatype is the
bare ``integer`` there (keys that also accept an atom such as ``infinity`` are left out).
cuttlefish's integer datatype is ``list_to_integer``: an optional sign and digits.
"""

from __future__ import annotations

import re

INTEGER_KEYS = frozenset(
    {
        "heartbeat",
        "channel_max",
        "consumer_timeout",
        "collect_statistics_interval",
        "ssl_handshake_timeout",
        "num_acceptors.tcp",
        "num_acceptors.ssl",
        "tcp_listen_options.backlog",
        "tcp_listen_options.sndbuf",
        "tcp_listen_options.recbuf",
        "tcp_listen_options.send_timeout",
        "cluster_keepalive_interval",
    }
)

_INTEGER = re.compile(r"[+-]?[0-9]+")


def value_problem(key: str, value: str) -> str | None:
    """Why cuttlefish refuses ``value`` for ``key`` (None when it does not, or is not known)."""
    if key in INTEGER_KEYS and not _INTEGER.fullmatch(value):
        return f"{key} takes an integer, not {value!r}: cuttlefish refuses the file"
    return None
