"""Which running worker is the app's, for ``remediate verify``: its interpreter and pool type
run the canary, and, on a host that manages no Celery file, its ``-A`` module in its cwd says
which configuration module the app loads (``app.config_from_object('celeryconfig')``).

Pure: the worker facts come from ``remote.worker_probe``; the files from a gather.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Mapping, Sequence

from remediate.model.facts import FileFact
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


class ConfigNotFound(Exception):
    """The worker's configuration module cannot be located: the message says why."""


def locate_config(
    worker: WorkerFact, read: Callable[[Sequence[str]], Mapping[str, FileFact]]
) -> FileFact:
    """The app's configuration file, found from the worker's cwd and ``-A`` app: the app module
    (``read`` fetches files from the host) names it with ``config_from_object('module')``.
    Raises ConfigNotFound saying what was looked for."""
    who = f"worker {worker.pid} (-A {worker.app or '?'} in {worker.cwd or '?'})"
    candidates = app_module_files(worker)
    if not candidates:
        raise ConfigNotFound(f"{who}: no -A app module and cwd to find its Celery configuration")
    found = read(candidates)
    modules = [found[p] for p in candidates if p in found and found[p].exists]
    unreadable = [f"{m.path}: {m.error}" for m in modules if m.error]
    if unreadable:
        raise ConfigNotFound(f"{who}: cannot read the app module: {'; '.join(unreadable)}")
    if not modules:
        raise ConfigNotFound(f"{who}: app module not found (looked for {', '.join(candidates)})")
    name = next((n for n in (config_module(m.content) for m in modules) if n), None)
    if name is None:
        raise ConfigNotFound(
            f"{who}: {modules[0].path} has no config_from_object('<module>'): the app's "
            "configuration cannot be located"
        )
    paths = config_module_files(worker.cwd, name)
    files = read(paths)
    for path in paths:
        fact = files.get(path)
        if fact is not None and fact.exists:
            if fact.error:
                raise ConfigNotFound(f"{who}: {path}: {fact.error}")
            return fact
    raise ConfigNotFound(
        f"{who}: the app loads config_from_object({name!r}), but {' and '.join(paths)} do not exist"
    )
