"""Kubernetes manifests (one or more YAML documents, each with ``apiVersion`` and ``kind``).

* ConfigMaps (and Secrets' ``stringData``): each ``data`` key that names or holds a redis.conf,
  rabbitmq.conf or celeryconfig.py (told as lint tells files: by the key's name, else by the
  content) -> that document;
* containers of Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs:
  ``command`` + ``args`` running ``redis-server`` -> its redis.conf lines; a ``livenessProbe``
  (or ``startupProbe``) whose ``exec.command`` runs ``celery inspect ping`` -> MNF001.
  (A readiness probe only takes the pod out of a Service, which workers do not serve.)
"""

from __future__ import annotations

from remediate.lint.kinds import detect_kind
from remediate.lint.manifests.compose import command_words
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
    is_sequence,
    items,
    line,
    scalar,
)
from remediate.model.plans import Finding

_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def is_kubernetes(root: Node) -> bool:
    return scalar(child(root, "apiVersion")) is not None and scalar(child(root, "kind")) is not None


def is_workload_or_config(root: Node) -> bool:
    """A document whose kind may hold our settings (a ConfigMap, Secret or workload)."""
    return (scalar(child(root, "kind")) or "") in ("ConfigMap", "Secret", *_POD_SPEC_PATHS)


def extract_kubernetes(docs: list[Node], path: str, source: list[str]) -> Extraction:
    embedded: list[Embedded] = []
    findings: list[Finding] = []
    for doc in docs:
        kind = scalar(child(doc, "kind")) or ""
        name = scalar(child(doc, "metadata", "name")) or "?"
        if kind in ("ConfigMap", "Secret"):
            embedded += _config_files(doc, f"{kind}/{name}", source)
        spec_path = _POD_SPEC_PATHS.get(kind)
        if spec_path is None:
            continue
        spec = child(doc, *spec_path)
        for group in ("containers", "initContainers"):
            for container in elements(child(spec, group)):
                cname = scalar(child(container, "name")) or "?"
                where = f"{kind}/{name} container {cname!r}"
                redis = _container_redis(container, f"{kind}/{name}:{cname}")
                if redis is not None:
                    embedded.append(redis)
                for probe in ("livenessProbe", "startupProbe"):
                    command = child(container, probe, "exec", "command")
                    words = command_words(command)
                    if words is not None and command is not None:
                        findings += inspect_ping_probe(
                            words, path, line(command), column(command), f"the {probe} of {where}"
                        )
    return Extraction(tuple(embedded), tuple(findings))


def _config_files(doc: Node, name: str, source: list[str]) -> list[Embedded]:
    out = []
    for key in ("data", "stringData"):
        for file_name, _, value in items(child(doc, key)):
            text = scalar(value)
            if text is None:
                continue
            kind = detect_kind(file_name, text.encode())
            if kind not in ("redis", "rabbitmq", "celery"):
                continue
            piece = EmbeddedBuilder(kind, f"{name}:{file_name}", line(value))
            add_string_lines(piece, value, source)
            out.append(piece.build())
    return out


def _container_redis(container: Node, name: str) -> Embedded | None:
    """``command`` + ``args`` as one argv when it runs redis-server (list form only)."""
    nodes: list[Node] = []
    for key in ("command", "args"):
        value = child(container, key)
        if is_sequence(value):
            nodes += elements(value)
    words = [scalar(node) for node in nodes]
    if not words or any(word is None for word in words):
        return None
    argv = [w or "" for w in words]
    if len(argv) >= 3 and argv[0].endswith("sh") and argv[1] == "-c":
        return None  # a shell script: its words are not redis-server's arguments
    if not is_redis_server(argv) or split_command(argv) is None:
        return None
    piece = EmbeddedBuilder("redis", name, line(nodes[0]), "server")
    redis_server_lines(argv, [(line(n), column(n)) for n in nodes], piece)
    return piece.build() if piece else None
