"""Manifests that hold Celery, Redis and RabbitMQ settings: Helm values, docker-compose files,
Kubernetes manifests and Terraform. Each is read into the config documents embedded in it
(every line with its line in the manifest), findings made on the manifest itself, and the idle
limits of the network path; ``lint`` runs the usual rules on the embedded documents and
reports every finding at the manifest's path and line.

    kind = detect_manifest("deploy/values.yaml", data)   # "helm" | "compose" | ... | None
    extraction = extract(kind, "deploy/values.yaml", data)
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from remediate.errors import ParseError
from remediate.lint.manifests.embedded import Embedded, Extraction, IdleLimit

MANIFEST_KINDS = ("helm", "compose", "kubernetes", "terraform")
YAML_SUFFIXES = (".yaml", ".yml")
_COMPOSE_NAME = re.compile(r"^(docker-)?compose([-._].*)?\.ya?ml$|\.compose\.ya?ml$")


def may_be_manifest(name: str) -> bool:
    """Cheap test of a file name before reading it."""
    lower = name.lower()
    return lower.endswith((*YAML_SUFFIXES, ".tf"))


def detect_manifest(path: str, data: bytes) -> str | None:
    """The manifest kind of a file, or None when it holds nothing we read."""
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    if not may_be_manifest(name):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if name.endswith(".tf"):
        from remediate.lint.manifests.terraform import mentions_our_resources

        return "terraform" if mentions_our_resources(text) else None
    from remediate.lint.manifests.compose import is_compose
    from remediate.lint.manifests.helm import is_helm_values
    from remediate.lint.manifests.kubernetes import is_kubernetes, is_workload_or_config
    from remediate.lint.manifests.yaml_nodes import is_mapping, load_documents

    try:
        docs = load_documents(text, path)
    except ParseError:
        return None  # a chart template, or not YAML: not ours
    if not docs or not all(is_mapping(doc) for doc in docs):
        return None
    if _COMPOSE_NAME.search(name) or is_compose(docs[0]):
        return "compose" if is_compose(docs[0]) else None
    if any(is_kubernetes(doc) for doc in docs):
        return "kubernetes" if any(is_workload_or_config(doc) for doc in docs) else None
    if len(docs) == 1 and is_helm_values(docs[0]):
        return "helm"
    return None


def extract(kind: str, path: str, data: bytes) -> Extraction:
    """What a manifest of ``kind`` holds. Raises ParseError naming the line of bad input."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    if kind == "terraform":
        from remediate.lint.manifests.terraform import extract_terraform

        return extract_terraform(text, path)
    from remediate.lint.manifests.yaml_nodes import is_mapping, load_documents

    docs = load_documents(text, path)
    source = text.split("\n")
    if not docs or not all(is_mapping(doc) for doc in docs):
        raise ParseError(
            f"not a {kind} manifest: every YAML document must be a mapping", path=path, line=1
        )
    if kind == "helm":
        from remediate.lint.manifests.helm import extract_helm

        return extract_helm(docs[0], path, source)
    if kind == "compose":
        from remediate.lint.manifests.compose import extract_compose

        return extract_compose(docs[0], path, source)
    if kind == "kubernetes":
        from remediate.lint.manifests.kubernetes import extract_kubernetes

        return extract_kubernetes(docs, path, source)
    raise ValueError(f"unknown manifest kind {kind!r}; expected one of {MANIFEST_KINDS}")


__all__ = [
    "MANIFEST_KINDS",
    "Embedded",
    "Extraction",
    "IdleLimit",
    "detect_manifest",
    "extract",
    "may_be_manifest",
]
