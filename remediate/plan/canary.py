"""The canary worker of ``remediate verify`` (issue 15): its two Python modules, as text.

A canary is a Celery worker of the app's own pool type (``-P``, concurrency 1) that connects
to the broker exactly as the app does and consumes only its own queue,
``remediate.verify.<run>``; verify publishes one task to it and waits for the worker's log to
show the token the task returns. The canary's connection
settings are the app's own: every ``broker_*`` setting the app's file sets (broker_url,
broker_transport_options, broker_heartbeat, broker_connection_*, broker_use_ssl, ...) is copied
verbatim, in any spelling the file uses (``BROKER_URL``, ``CELERY_BROKER_URL``), as a new-style
name. Names those values use come along: top-level helpers of the file (renamed
``_app_<name>`` so an upper-case helper cannot look like an old setting name to Celery) and the
imports that bind them. A value the canary cannot reproduce is an error naming file and line,
never a guess. Nothing else of the app is copied: no task modules, no routes, no result backend.

The configuration holds the broker's password. :class:`CanaryFiles` keeps the sources out of
its repr and str; write them with mode 0600 and never print them.

    doc = formats.parse("celery", data, path="celeryconfig.py")
    files = canary_files(doc, run="20240501T120000-3f2a")
    for name, text in files.sources().items(): ...     # write into an empty directory
    # cd DIR && python -m celery <files.worker_args()>
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from typing import Any

from remediate.errors import RemediateError
from remediate.formats import celery_settings
from remediate.formats.base import ABSENT, Document
from remediate.formats.celery_values import Code, render
from remediate.model.secrets import Masker

CONFIG_MODULE = "remediate_canary_config"
TASKS_MODULE = "remediate_canary_tasks"
TASK_NAME = "remediate_canary"
QUEUE_PREFIX = "remediate.verify."
#: Celery's default pool (``worker_pool = 'prefork'`` in celery/app/defaults.py)
DEFAULT_POOL = "prefork"
_POOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:]{0,199}$")
HELPER_PREFIX = "_app_"
_RUN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_BUILTINS = frozenset(dir(builtins))


class CanaryError(RemediateError):
    """The app's file has broker settings the canary cannot reproduce."""


@dataclass(frozen=True)
class CanaryFiles:
    """The canary's configuration and tasks modules. The sources may hold the broker password:
    they never appear in repr or str."""

    run: str
    queue: str
    token: str
    config_source: str = field(repr=False)
    tasks_source: str = field(repr=False)
    copied: tuple[str, ...]  # the app's settings copied, as new-style names
    secrets: tuple[str, ...] = field(repr=False, default=())
    #: the app's own pool type (its worker's ``-P``, else its ``worker_pool``, else prefork)
    pool: str = DEFAULT_POOL

    def sources(self) -> dict[str, str]:
        """File name -> text, for an otherwise empty directory."""
        return {f"{CONFIG_MODULE}.py": self.config_source, f"{TASKS_MODULE}.py": self.tasks_source}

    def masked_config(self) -> str:
        """The configuration with passwords masked: the only form fit to show."""
        return Masker(self.secrets)(self.config_source)

    def worker_args(self) -> tuple[str, ...]:
        """Arguments after ``python -m celery`` for the canary worker (run in its directory)."""
        return (
            "-A",
            TASKS_MODULE,
            "worker",
            "-P",
            self.pool,
            "-c",
            "1",
            "-Q",
            self.queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        )

    def __repr__(self) -> str:
        return (
            f"CanaryFiles(run={self.run!r}, queue={self.queue!r}, pool={self.pool!r}, "
            f"copied={self.copied!r}, "
            f"sources=<{len(self.config_source) + len(self.tasks_source)} chars, masked>)"
        )

    __str__ = __repr__


def canary_queue(run: str) -> str:
    if not _RUN.match(run):
        raise CanaryError(f"run id {run!r}: letters, digits, '.', '_' and '-' only")
    return QUEUE_PREFIX + run


def broker_setting_names(version: str = celery_settings.NEWEST) -> tuple[str, ...]:
    """Every broker setting of the Celery series, sorted: what the canary copies when set."""
    return tuple(sorted(n for n in celery_settings.names(version) if n.startswith("broker_")))


def canary_pool(doc: Document, worker_pool: str | None = None) -> str:
    """The pool type the app's workers run: ``worker_pool`` (a running worker's ``-P``) when
    known, else the file's ``worker_pool`` setting (any spelling), else Celery's default."""
    chosen = worker_pool
    if not chosen:
        value = doc.current("worker_pool")
        chosen = value if isinstance(value, str) and value else DEFAULT_POOL
    if not _POOL.match(chosen):
        line = None if worker_pool else doc.line_of("worker_pool")
        raise CanaryError(
            f"pool {chosen!r}: not a pool name or class path the canary can pass to -P",
            path=str(getattr(doc, "path", "") or "the celery file"),
            line=line,
        )
    return chosen


def canary_files(
    doc: Document,
    run: str,
    *,
    token: str | None = None,
    celery_version: str | None = None,
    worker_pool: str | None = None,
) -> CanaryFiles:
    """The canary's modules for the app whose Celery file is ``doc`` (``parse("celery", ...)``).
    ``token`` is what the task returns (default: derived from ``run``); ``worker_pool`` is the
    ``-P`` of a running worker of the app (see :func:`canary_pool`)."""
    queue = canary_queue(run)
    token = token or f"remediate-canary-{run}"
    version = celery_version or celery_settings.NEWEST
    path = str(getattr(doc, "path", "") or "the celery file")
    copied = {name: doc.current(name) for name in broker_setting_names(version)}
    copied = {name: value for name, value in copied.items() if value is not ABSENT}
    if not any(name in copied for name in ("broker_url", "broker_read_url", "broker_host")):
        raise CanaryError(
            "no broker_url: the canary cannot tell which broker the app uses "
            "(set in the environment or the app module?); give the file that "
            "sets it",
            path=path,
        )
    context = _Context(doc, path)
    lines = {name: f"{name} = {context.source(value, name)}" for name, value in copied.items()}
    config = _config_source(run, path, queue, context, lines)
    secrets = tuple(getattr(doc, "secrets", list)())
    pool = canary_pool(doc, worker_pool)
    tasks = _tasks_source(run, token)
    return CanaryFiles(run, queue, token, config, tasks, tuple(copied), secrets, pool)


class _Context:
    """Resolves the names the copied values use: helpers of the file, and its imports."""

    def __init__(self, doc: Document, path: str) -> None:
        self.doc = doc
        self.path = path
        self.settings: dict[str, Any] = doc.settings()
        self.tree = ast.parse(doc.dump())
        self.imports = _top_level_imports(self.tree)
        self.needed_imports: dict[str, str] = {}  # bound name -> import statement
        self.helpers: dict[str, str] = {}  # original name -> "_app_name = source", in order
        self._visiting: set[str] = set()

    def source(self, value: Any, setting: str) -> str:
        """Python source of ``value`` with helper names renamed and their needs collected."""
        text = render(value)
        if not _has_code(value):
            return text
        expression = ast.parse(text, mode="eval")
        for name in sorted(_free_names(expression)):
            self._need(name, setting)
        renamed = _Rename(set(self.helpers) | self._visiting).visit(expression)
        return ast.unparse(renamed)

    def _need(self, name: str, setting: str) -> None:
        if name in self.helpers or name in self._visiting or name in self.needed_imports:
            return
        if name in self.imports:
            self.needed_imports[name] = self.imports[name]
        elif name in self.settings:
            self._visiting.add(name)
            text = self.source(self.settings[name], name)
            self._visiting.discard(name)
            self.helpers[name] = f"{HELPER_PREFIX}{name} = {text}"
        elif name not in _BUILTINS:
            line = self.doc.line_of(setting)
            raise CanaryError(
                f"{setting} uses {name!r}, which is neither a top-level name "
                "nor an import of the file: the canary cannot copy it",
                path=self.path,
                line=line,
            )


class _Rename(ast.NodeTransformer):
    def __init__(self, helpers: set[str]) -> None:
        self.helpers = helpers

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.helpers:
            return ast.copy_location(ast.Name(HELPER_PREFIX + node.id, node.ctx), node)
        return node


def _has_code(value: Any) -> bool:
    if isinstance(value, Code):
        return True
    if isinstance(value, dict):
        return any(_has_code(k) or _has_code(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_code(item) for item in value)
    return False


def _free_names(expression: ast.Expression) -> set[str]:
    """Names an expression reads that it does not bind itself (comprehension targets, lambda
    arguments)."""
    read: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(expression):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound


def _top_level_imports(tree: ast.Module) -> dict[str, str]:
    """Bound name -> an absolute import statement that binds just it (relative ones are left
    out: the canary's directory has no package around it)."""
    found: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.split(".")[0]
                found[bound] = ast.unparse(ast.Import([alias]))
        elif isinstance(statement, ast.ImportFrom) and not statement.level:
            for alias in statement.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = ast.unparse(
                        ast.ImportFrom(statement.module, [alias], 0)
                    )
    return found


def _config_source(
    run: str, path: str, queue: str, context: _Context, lines: dict[str, str]
) -> str:
    parts = [
        (
            f'"""Canary worker configuration for `remediate verify` run {run}.\n\n'
            f"The broker settings are copied from {path}; the rest is the canary's own. This file\n"
            'holds the broker credentials: keep it private and delete it after the run."""\n'
        ),
    ]
    if context.needed_imports:
        parts.append("\n".join(sorted(set(context.needed_imports.values()))) + "\n")
    if context.helpers:
        parts.append("\n".join(context.helpers.values()) + "\n")
    parts.append("\n".join(lines.values()) + "\n")
    parts.append(
        "# the canary consumes its own queue, one message at a time, and nothing else\n"
        f"task_default_queue = {render(queue)}\n"
        "worker_prefetch_multiplier = 1\n"
        "worker_enable_remote_control = False\n"
        "worker_send_task_events = False\n"
        "task_ignore_result = True\n"
    )
    return "\n".join(parts)


def _tasks_source(run: str, token: str) -> str:
    return (
        f'"""The canary\'s one task for `remediate verify` run {run}."""\n\n'
        "from celery import Celery\n\n"
        f"TOKEN = {render(token)}\n\n"
        f"app = Celery({render(TASKS_MODULE)})\n"
        f"app.config_from_object({render(CONFIG_MODULE)})\n\n\n"
        f"@app.task(name={render(TASK_NAME)})\n"
        "def remediate_canary(nonce=''):\n"
        "    return f'{TOKEN}:{nonce}'\n"
    )
