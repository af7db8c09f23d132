"""Terraform files: the managed Redis and RabbitMQ settings of the cloud providers, and load
balancers that close idle flows. Values come from python-hcl2, lines from ``hcl_lines``.

* ``aws_elasticache_parameter_group`` (family redis*/valkey*): each ``parameter { name value }``
  is a redis.conf line ``name value`` at the ``value`` line (``timeout``, ``tcp-keepalive``,
  ``maxmemory-policy`` ... -> RDS001-RDS003);
* ``google_redis_instance.redis_configs`` and ``azurerm_redis_cache.redis_configuration``
  (``maxmemory_policy`` spelled with underscores) -> redis.conf lines;
* ``aws_mq_configuration`` with ``engine_type = "RabbitMQ"``: ``data`` is a rabbitmq.conf
  (cuttlefish ``key = value``; a heredoc keeps its lines); ActiveMQ's XML is not ours;
* ``cloudamqp_rabbitmq_configuration``: ``heartbeat``, ``consumer_timeout`` ... -> rabbitmq.conf;
* idle limits on the path: ``aws_lb`` with ``load_balancer_type = "network"`` (350 s, TCP
  keepalives reset it), ``aws_lb_listener.tcp_idle_timeout_seconds``, and every
  ``azurerm_redis_cache`` (Azure closes connections idle for 10 minutes; only traffic counts).

A value that is an expression (``var.x``, ``"${...}"``) is unknown and skipped.
"""

from __future__ import annotations

from typing import Any

from remediate.errors import ParseError
from remediate.lint.manifests.embedded import Embedded, EmbeddedBuilder, Extraction, IdleLimit
from remediate.lint.manifests.hcl_lines import Block, HclLines

RESOURCES = (
    "aws_elasticache_parameter_group",
    "google_redis_instance",
    "azurerm_redis_cache",
    "aws_mq_configuration",
    "cloudamqp_rabbitmq_configuration",
    "aws_lb",
    "aws_lb_listener",
)
NLB_IDLE_SECONDS = 350
AZURE_REDIS_IDLE_SECONDS = 600
#: cloudamqp_rabbitmq_configuration attributes that are rabbitmq.conf keys of the same name
_CLOUDAMQP_KEYS = (
    "heartbeat",
    "consumer_timeout",
    "channel_max",
    "connection_max",
    "max_message_size",
    "vm_memory_high_watermark",
    "cluster_partition_handling",
)


def mentions_our_resources(text: str) -> bool:
    return any(f'"{name}"' in text for name in RESOURCES)


def load_hcl(text: str, path: str) -> dict[str, Any]:
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError

    try:
        loaded: dict[str, Any] = hcl2.loads(
            text,
            serialization_options=SerializationOptions(
                strip_string_quotes=True, preserve_heredocs=False
            ),
        )
    except (LarkError, ValueError, KeyError, TypeError) as exc:  # python-hcl2 raises lark's
        where = getattr(exc, "line", None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParseError(
            f"invalid HCL: {reason}",
            path=path,
            line=where if isinstance(where, int) and where > 0 else None,
        ) from None
    return loaded


def _resources(loaded: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of every resource of ``kind``, in file order."""
    out = []
    for entry in loaded.get("resource", []):
        for name, body in (entry.get(kind) or {}).items():
            if isinstance(body, dict):
                out.append((name, body))
    return out


def _known(value: Any) -> str | None:
    """A literal value as text, None for an expression."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and "${" not in value and "%{" not in value:
        return value
    return None


def extract_terraform(text: str, path: str) -> Extraction:
    loaded = load_hcl(text, path)
    lines = HclLines(text)
    embedded: list[Embedded] = []
    limits: list[IdleLimit] = []
    for kind in RESOURCES:
        blocks = {
            b.labels[1]: b
            for b in lines.blocks("resource")
            if b.labels[:1] == (kind,) and len(b.labels) > 1
        }
        for name, body in _resources(loaded, kind):
            block = blocks.get(name)
            if block is None:
                continue
            where = f"{kind}.{name}"
            if kind == "aws_elasticache_parameter_group":
                embedded += _elasticache(body, block, lines, where)
            elif kind == "google_redis_instance":
                embedded += _redis_map(
                    body.get("redis_configs"), "redis_configs", block, lines, where
                )
            elif kind == "azurerm_redis_cache":
                config = body.get("redis_configuration")
                config = config[0] if isinstance(config, list) and config else config
                embedded += _redis_map(config, "redis_configuration", block, lines, where)
                limits.append(
                    IdleLimit(
                        AZURE_REDIS_IDLE_SECONDS,
                        f"Azure Cache for Redis ({where}) closes connections idle for 10 minutes",
                        True,
                        path,
                        block.start,
                    )
                )
            elif kind == "aws_mq_configuration":
                embedded += _amazon_mq(body, block, lines, where)
            elif kind == "cloudamqp_rabbitmq_configuration":
                embedded += _cloudamqp(body, block, lines, where)
            else:
                limits += _load_balancer(kind, body, block, lines, where, path)
    return Extraction(tuple(embedded), (), tuple(limits))


def _elasticache(body: dict[str, Any], block: Block, lines: HclLines, where: str) -> list[Embedded]:
    family = str(_known(body.get("family")) or "redis").lower()
    if family.startswith("memcached"):
        return []
    piece = EmbeddedBuilder("redis", where, block.start, "server", "ElastiCache")
    parameters = body.get("parameter") or []
    for entry, sub in zip(parameters, lines.sub_blocks(block, "parameter"), strict=False):
        if not isinstance(entry, dict):
            continue
        name, value = _known(entry.get("name")), _known(entry.get("value"))
        if name is None or value is None:
            continue
        line = lines.attribute(sub, "value") or sub.start
        piece.add(f"{name} {_redis_word(value)}", line, lines.column(line, "value"))
    return [piece.build()] if piece else []


def _redis_word(value: str) -> str:
    from remediate.formats.redis_args import quote_arg

    return " ".join(quote_arg(word) for word in value.split()) if value.strip() else '""'


def _redis_map(
    config: Any, attribute: str, block: Block, lines: HclLines, where: str
) -> list[Embedded]:
    if not isinstance(config, dict):
        return []
    inner = next(iter(lines.blocks(attribute, block)), None)
    service = "Memorystore" if where.startswith("google") else "Azure Cache for Redis"
    piece = EmbeddedBuilder(
        "redis", f"{where}.{attribute}", inner.start if inner else block.start, "server", service
    )
    for key, raw in config.items():
        value = _known(raw)
        if key.startswith("__") or value is None:
            continue
        line = (lines.attribute(inner, key) if inner else None) or block.start
        name = key.replace("_", "-")
        piece.add(f"{name} {_redis_word(value)}", line, lines.column(line, key))
    return [piece.build()] if piece else []


def _amazon_mq(body: dict[str, Any], block: Block, lines: HclLines, where: str) -> list[Embedded]:
    if str(_known(body.get("engine_type")) or "").lower() != "rabbitmq":
        return []
    data = _known(body.get("data"))
    line = lines.attribute(block, "data")
    if data is None or line is None:
        return []
    piece = EmbeddedBuilder("rabbitmq", f"{where}.data", line)
    heredoc = lines.heredoc(line)
    if heredoc is not None:
        first, texts, indent = heredoc
        for k, text in enumerate(texts):
            piece.add(text, first + k, indent + 1)
    else:
        for text in data.split("\n"):
            piece.add(text, line)
    return [piece.build()]


def _cloudamqp(body: dict[str, Any], block: Block, lines: HclLines, where: str) -> list[Embedded]:
    piece = EmbeddedBuilder("rabbitmq", where, block.start)
    for key in _CLOUDAMQP_KEYS:
        value = _known(body.get(key))
        line = lines.attribute(block, key)
        if value is not None and line is not None:
            piece.add(f"{key} = {value}", line, lines.column(line, key))
    return [piece.build()] if piece else []


def _load_balancer(
    kind: str, body: dict[str, Any], block: Block, lines: HclLines, where: str, path: str
) -> list[IdleLimit]:
    if kind == "aws_lb":
        if str(_known(body.get("load_balancer_type")) or "").lower() != "network":
            return []
        line = lines.attribute(block, "load_balancer_type") or block.start
        return [
            IdleLimit(
                NLB_IDLE_SECONDS,
                f"AWS Network Load Balancer ({where}) closes TCP "
                f"flows idle for {NLB_IDLE_SECONDS} s",
                False,
                path,
                line,
            )
        ]
    seconds = _known(body.get("tcp_idle_timeout_seconds"))
    at = lines.attribute(block, "tcp_idle_timeout_seconds")
    if seconds is None or at is None or not seconds.isdigit():
        return []
    return [
        IdleLimit(
            int(seconds),
            f"NLB listener {where} tcp_idle_timeout_seconds {seconds}",
            False,
            path,
            at,
        )
    ]
