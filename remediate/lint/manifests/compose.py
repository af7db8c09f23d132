"""docker-compose files (the Compose Specification): ``services`` with a ``command``, a
``healthcheck`` and an ``environment``, and top-level ``configs`` with inline ``content``.

* ``command: redis-server --timeout 300`` (string or list) -> the redis.conf lines Redis makes
  of its arguments;
* ``healthcheck.test`` running ``celery inspect ping`` -> MNF001;
* ``configs: NAME: content: |`` holding a redis.conf, rabbitmq.conf or celeryconfig.py (told
  by the config's name, else its content) -> that document.

The ``environment`` of a worker service (``CELERY_BROKER_URL``: Celery reads it itself and it
overrides the config file, ``celery/app/utils.py`` ``Settings.broker_url``) names the broker but
not its transport options, which live in the application's Celery config inside the image.
So no Celery rule judges the environment alone: a "no socket_keepalive" finding there would be
false for every application that sets them in code.
"""

from __future__ import annotations

from remediate.lint.kinds import detect_kind
from remediate.lint.manifests.embedded import Embedded, EmbeddedBuilder, Extraction
from remediate.lint.manifests.workers import (
    inspect_ping_probe,
    is_redis_server,
    redis_server_lines,
    split_command,
)
from remediate.lint.manifests.yaml_nodes import (
    Node,
    add_string_lines,
    child,
    column,
    elements,
    is_mapping,
    is_sequence,
    items,
    line,
    scalar,
)
from remediate.model.plans import Finding

_SERVICE_KEYS = frozenset(
    {
        "image",
        "build",
        "command",
        "environment",
        "healthcheck",
        "ports",
        "volumes",
        "depends_on",
        "entrypoint",
        "restart",
        "env_file",
    }
)


def is_compose(root: Node) -> bool:
    """A Compose file: ``services`` maps names to service definitions."""
    services = child(root, "services")
    return is_mapping(services) and any(
        is_mapping(value) and any(key in _SERVICE_KEYS for key, _, _ in items(value))
        for _, _, value in items(services)
    )


def extract_compose(root: Node, path: str, source: list[str]) -> Extraction:
    embedded: list[Embedded] = []
    findings: list[Finding] = []
    for name, _, service in items(child(root, "services")):
        redis = command_document(child(service, "command"), f"services.{name}.command", source)
        if redis is not None:
            embedded.append(redis)
        test = child(service, "healthcheck", "test")
        command = command_words(test)
        if command is not None and test is not None:
            findings += inspect_ping_probe(
                command, path, line(test), column(test), f"the health check of service {name!r}"
            )
    targets = _config_targets(root)
    for name, _, config in items(child(root, "configs")):
        content = child(config, "content")
        if scalar(content) is None or content is None:
            continue
        data = (scalar(content) or "").encode()
        kind = detect_kind(targets.get(name, name), data) or detect_kind(name, data)
        if kind in ("redis", "rabbitmq", "celery"):
            piece = EmbeddedBuilder(kind, f"configs.{name}", line(content))
            add_string_lines(piece, content, source)
            embedded.append(piece.build())
    return Extraction(tuple(embedded), tuple(findings))


def _config_targets(root: Node) -> dict[str, str]:
    """Config name -> the file name a service mounts it as (``configs: [{source, target}]``)."""
    targets: dict[str, str] = {}
    for _, _, service in items(child(root, "services")):
        for entry in elements(child(service, "configs")):
            source, target = scalar(child(entry, "source")), scalar(child(entry, "target"))
            if source and target:
                targets.setdefault(source, target)
    return targets


def command_words(node: Node | None) -> str | list[str] | None:
    """A command given as a string or a list of strings."""
    if is_sequence(node):
        words = [scalar(item) for item in elements(node)]
        return None if any(word is None for word in words) else [w or "" for w in words]
    return scalar(node)


def command_document(node: Node | None, name: str, source: list[str]) -> Embedded | None:
    """The redis.conf lines of a ``redis-server ...`` command (string or list form)."""
    words = command_words(node)
    if words is None or node is None:
        return None
    argv = split_command(words)
    if not argv or not is_redis_server(argv):
        return None
    if is_sequence(node):
        positions = [(line(item), column(item)) for item in elements(node)]
    else:
        positions = _word_positions(argv, node, source)
    piece = EmbeddedBuilder("redis", name, line(node), "server")
    redis_server_lines(argv, positions, piece)
    return piece.build() if piece else None


def _word_positions(argv: list[str], node: Node, source: list[str]) -> list[tuple[int, int]]:
    """Where each word of a one-line string command sits (the value's start when unsure)."""
    start = (line(node), column(node))
    row = source[start[0] - 1] if 0 < start[0] <= len(source) else ""
    out, at = [], start[1] - 1
    for word in argv:
        found = row.find(word, at)
        if found < 0 or node.style not in (None, "", "'", '"'):
            return [start] * len(argv)
        out.append((start[0], found + 1))
        at = found + len(word)
    return out
