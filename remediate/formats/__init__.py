"""Lossless config formats: parse bytes -> Document; settings(); edit; dump() -> bytes.

from remediate.formats import parse, merge
doc = parse("redis", data, path="redis.conf")
new_doc, changes = merge(doc, parse("redis", b"timeout 0\n"), strategy="merge")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from remediate.errors import ParseError
from remediate.formats.base import ABSENT, Change, Document, Edit, Problem, merge

KINDS = (
    "redis",
    "rabbitmq",
    "celery",
    "limits",
    "systemd",
    "shell",
    "supervisord",
    "python-lock",
    "helm-values",
    "compose-file",
)
#: kinds that hold other kinds' settings inside a YAML manifest (merge only, never replace)
MANIFEST_FILE_KINDS = ("helm-values", "compose-file")
#: kinds lint reads but a playbook never writes (a lock file is written by its tool)
LINT_ONLY_KINDS = ("supervisord", "python-lock")
_MODULES = {
    "redis": "remediate.formats.redis_conf",
    "rabbitmq": "remediate.formats.rabbitmq_conf",
    "celery": "remediate.formats.celery_config",
    "limits": "remediate.formats.limits_conf",
    "systemd": "remediate.formats.systemd_unit",
    "shell": "remediate.formats.shell_env",
    "supervisord": "remediate.formats.supervisord_conf",
    "python-lock": "remediate.formats.python_lock",
    "helm-values": "remediate.formats.helm_values",
    "compose-file": "remediate.formats.compose_file",
}


def module_for(kind: str) -> str:
    """The module that implements ``kind``."""
    if kind not in _MODULES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return _MODULES[kind]


def parse(kind: str, data: bytes, path: str = "") -> Document:
    """Parse ``data`` as a ``kind`` file. Raises ParseError naming path and line."""
    if kind not in _MODULES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    module = import_module(_MODULES[kind])
    doc: Document = module.parse(data, path or kind)
    return doc


def secrets_of(doc: Any) -> list[str]:
    """What to mask for ``doc``: its secret values, and their spellings as written."""
    found = list(getattr(doc, "secrets", list)())
    return found + [s for s in getattr(doc, "spellings", list)() if s not in found]


__all__ = [
    "ABSENT",
    "KINDS",
    "LINT_ONLY_KINDS",
    "MANIFEST_FILE_KINDS",
    "Change",
    "Document",
    "Edit",
    "ParseError",
    "Problem",
    "merge",
    "parse",
    "secrets_of",
]
