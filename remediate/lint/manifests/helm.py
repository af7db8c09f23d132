"""Helm values files of the common Redis and RabbitMQ charts.

* bitnami/redis: ``commonConfiguration`` (the chart's ``redis.conf``), ``master.configuration``
  (``master.conf``), ``replica.configuration`` (``replica.conf``), ``sentinel.configuration``.
  The start scripts run ``redis-server --include redis.conf --include master.conf``
  (``templates/scripts-configmap.yaml``), so the master reads the common lines, then its own:
  each server is linted as common + own lines, so an override in ``master.configuration`` wins
  as it does in Redis.
* bitnami/rabbitmq: ``configuration`` (the whole ``rabbitmq.conf``, a template) and
  ``extraConfiguration`` (rendered into it: ``templates/_helpers.tpl`` ``rabbitmq.extraConfiguration``).
* redis-ha (DandyDeveloper/charts): ``redis.config`` (a map rendered as ``key value`` lines of
  redis.conf) and, with ``haproxy.enabled``, ``haproxy.timeout.client`` / ``server``: HAProxy
  closes a connection idle that long whatever TCP keepalives say, an idle limit on the path.

Values of an umbrella chart that holds one of these charts under a key (``redis:``,
``rabbitmq:``) are read the same way. Lines with a Helm tag (``{{ ... }}``) are blanked: their
value is only known once the chart renders them.
"""

from __future__ import annotations

import re

from remediate.lint.kinds import kind_from_content
from remediate.lint.manifests.embedded import Embedded, EmbeddedBuilder, Extraction, IdleLimit
from remediate.lint.manifests.yaml_nodes import (
    Node,
    add_string_lines,
    child,
    is_mapping,
    items,
    line,
    scalar,
)

_HAPROXY_TIME = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)?\s*", re.IGNORECASE)
_HAPROXY_UNIT = {"us": 1e-6, "ms": 1e-3, "": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def chart_roots(root: Node) -> list[tuple[str, Node]]:
    """The values mappings to read: the file's own, and each subchart's (``redis: {...}``)."""
    roots = [("", root)]
    roots += [(key + ".", value) for key, _, value in items(root) if is_mapping(value)]
    return roots


def is_helm_values(root: Node) -> bool:
    """Whether a YAML document holds values of a chart we read."""
    return any(
        _bitnami_redis_keys(values) or _rabbitmq_configuration(values) or _redis_ha(values)
        for _, values in chart_roots(root)
    )


def _text(node: Node | None) -> str | None:
    value = scalar(node)
    return value if value is not None and node is not None and node.tag.endswith(":str") else None


def _bitnami_redis_keys(values: Node) -> list[tuple[str, Node]]:
    found = []
    for name, path in (
        ("commonConfiguration", ("commonConfiguration",)),
        ("master.configuration", ("master", "configuration")),
        ("replica.configuration", ("replica", "configuration")),
        ("sentinel.configuration", ("sentinel", "configuration")),
    ):
        node = child(values, *path)
        if _text(node) is not None:
            found.append((name, node))
    return found


def _rabbitmq_configuration(values: Node) -> list[tuple[str, Node]]:
    found: list[tuple[str, Node]] = []
    for name in ("configuration", "extraConfiguration"):
        node = child(values, name)
        text = _text(node)
        if (
            text is not None
            and node is not None
            and (name == "extraConfiguration" or kind_from_content(text) == "rabbitmq")
        ):
            found.append((name, node))
    return found


def _redis_ha(values: Node) -> bool:
    return child(values, "haproxy", "timeout") is not None or (
        is_mapping(child(values, "redis", "config")) and child(values, "sentinel") is not None
    )


def extract_helm(root: Node, path: str, source: list[str]) -> Extraction:
    embedded: list[Embedded] = []
    limits: list[IdleLimit] = []
    for prefix, values in chart_roots(root):
        embedded += _bitnami_redis(values, prefix, source)
        rabbit = _rabbitmq_configuration(values)
        if rabbit:
            piece = EmbeddedBuilder("rabbitmq", prefix + "rabbitmq.conf", line(rabbit[0][1]))
            for _, node in rabbit:
                add_string_lines(piece, node, source, blank_templates=True)
            embedded.append(piece.build())
        if _redis_ha(values):
            embedded += _redis_ha_config(values, prefix)
            limits += _haproxy_limits(values, prefix, path)
    return Extraction(tuple(embedded), (), tuple(limits))


def _bitnami_redis(values: Node, prefix: str, source: list[str]) -> list[Embedded]:
    found = dict(_bitnami_redis_keys(values))
    common = found.pop("commonConfiguration", None)
    out = []
    for name, node in found.items():
        flavor = "sentinel" if name.startswith("sentinel") else "server"
        piece = EmbeddedBuilder("redis", prefix + name, line(node), flavor)
        if common is not None and flavor == "server":
            add_string_lines(piece, common, source, blank_templates=True)
        add_string_lines(piece, node, source, blank_templates=True)
        out.append(piece.build())
    servers = [name for name in found if not name.startswith("sentinel")]
    if common is not None and not servers:
        piece = EmbeddedBuilder("redis", prefix + "commonConfiguration", line(common), "server")
        add_string_lines(piece, common, source, blank_templates=True)
        out.append(piece.build())
    return out


def _redis_ha_config(values: Node, prefix: str) -> list[Embedded]:
    config = child(values, "redis", "config")
    piece = EmbeddedBuilder(
        "redis", prefix + "redis.config", line(config) if config else 1, "server"
    )
    for key, key_node, value_node in items(config):
        value = scalar(value_node)
        if value is None or "{{" in value or "{{" in key:
            continue
        piece.add(f"{key} {value}", line(key_node), key_node.start_mark.column + 1)
    return [piece.build()] if piece else []


def haproxy_seconds(value: str) -> float | None:
    """An HAProxy time (``330s``, ``1m``, ``30000`` = milliseconds, its default unit)."""
    match = _HAPROXY_TIME.fullmatch(value)
    if match is None:
        return None
    return float(match.group(1)) * _HAPROXY_UNIT[(match.group(2) or "").lower()]


def _haproxy_limits(values: Node, prefix: str, path: str) -> list[IdleLimit]:
    if (scalar(child(values, "haproxy", "enabled")) or "").lower() != "true":
        return []
    limits: list[IdleLimit] = []
    for side in ("client", "server"):
        node = child(values, "haproxy", "timeout", side)
        value = scalar(node)
        seconds = haproxy_seconds(value) if value is not None else None
        if node is None or seconds is None:
            continue
        limits.append(
            IdleLimit(
                seconds,
                f"HAProxy timeout {side} {value} ({prefix}haproxy.timeout.{side}, redis-ha chart)",
                True,
                path,
                line(node),
            )
        )
    return limits
