"""Which running worker is the app's, for ``remediate verify``: its interpreter and pool type
run the canary, and, on a host that manages no Celery file, its ``-A`` module in its cwd says
which configuration module the app loads (``app.config_from_object('celeryconfig')``).

Pure: the worker facts come from ``remote.worker_probe``; the files from a gather.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Sequence

from remediate.model.workers import WorkerFact


def app_worker(workers: Sequence[WorkerFact], config_path: str | None) -> WorkerFact | None:
    """The worker of the app whose Celery file is ``config_path``: one running in the file's
    directory, else the first worker (by pid); None when none runs."""
    if not workers:
        return None
    if config_path:
        home = posixpath.dirname(config_path)
        for worker in workers:
            if worker.cwd and posixpath.normpath(worker.cwd) == home:
                return worker
    return workers[0]


def worker_interpreter(worker: WorkerFact) -> str:
    """The python the worker runs as (a virtualenv's ``bin/python``), else its binary."""
    return worker.interpreter or worker.exe


def _module_files(cwd: str, module: str) -> tuple[str, ...]:
    """Where ``import module`` finds the module when run in ``cwd``: ``a/b.py``, ``a/b/__init__.py``."""
    base = posixpath.join(cwd, *module.split("."))
    return (base + ".py", posixpath.join(base, "__init__.py"))


def app_module_files(worker: WorkerFact) -> tuple[str, ...]:
    """Files that may hold the worker's app (``-A proj``, ``-A proj.celery:app``), in the order
    Celery's ``find_app`` tries them: the module itself, then for a package ``proj.celery``."""
    app = worker.app.partition(":")[0]
    if not worker.cwd or not app or not all(part.isidentifier() for part in app.split(".")):
        return ()
    found = list(_module_files(worker.cwd, app))
    if not app.endswith(".celery"):
        found += _module_files(worker.cwd, app + ".celery")
    return tuple(found)


def config_module(source: bytes) -> str | None:
    """The module named by the app's ``config_from_object('name')`` (a string literal), if any."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "config_from_object"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            name = node.args[0].value.partition(":")[0]
            if name and all(part.isidentifier() for part in name.split(".")):
                return name
    return None


def config_module_files(cwd: str, module: str) -> tuple[str, ...]:
    """Where the app's configuration module lives, seen from the worker's cwd."""
    return _module_files(cwd, module)
