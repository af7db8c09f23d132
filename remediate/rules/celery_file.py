"""One Celery configuration file as the celery rules see it: its style, the version it
targets, its candidate setting names and how each resolves to a Celery setting.

Which top-level names are candidates (``celery_names`` and ``celery_rules`` judge them):

* a *Django settings module* (Django's own settings such as ``INSTALLED_APPS``, or keys in
  the ``CELERY_`` namespace): only ``CELERY*`` and ``BROKER_*`` names are Celery's;
* a plain *celeryconfig.py*: lower-case names are settings unless another setting's value
  uses them (helper variables); upper-case names are old names;
* an *app module* (``app.conf.update(...)``, ``app.conf.x = ...``): every key written to
  ``app.conf``, judged like a celeryconfig.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from remediate.formats import celery_settings
from remediate.formats.base import ABSENT, Document
from remediate.formats.celery_values import Code
from remediate.rules.base import Facts

#: Django's own settings: a module holding one of them is a Django settings module
DJANGO_MARKERS = frozenset(
    {
        "INSTALLED_APPS",
        "MIDDLEWARE",
        "MIDDLEWARE_CLASSES",
        "ROOT_URLCONF",
        "DATABASES",
        "WSGI_APPLICATION",
        "ASGI_APPLICATION",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "TEMPLATES",
        "AUTH_USER_MODEL",
        "AUTH_PASSWORD_VALIDATORS",
        "STATIC_URL",
    }
)
#: prefixes of the names Celery can read from a Django settings module
DJANGO_CELERY_PREFIXES = ("CELERY", "BROKER_")
REDIS_SCHEMES = frozenset({"redis", "rediss", "sentinel", "redis+socket"})
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
KEEPALIVE_OPTIONS = "{socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3}"
TRANSPORT = "broker_transport_options"
_URL_IN_CODE = re.compile(r"""["']([A-Za-z][A-Za-z0-9+.-]*)://""")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAMESPACE_ARGUMENT = re.compile(rb"\bnamespace\s*=\s*['\"]")


@dataclass
class CeleryFile:
    """What the celery rules know about one document, computed once."""

    doc: Any  # CeleryDocument
    version: str  # the target series, "5.7"
    version_key: tuple[int, int]
    django: bool  # a Django settings module
    namespaced: bool  # read under a namespace: styles may mix
    definitions: list[tuple[str, int]]  # (key as spelled, first line), in file order
    settings: dict[str, Any]  # key as spelled -> value (the last definition's)
    referenced: frozenset[str]  # names other settings' values use (helper variables)
    _lines: list[str] | None = field(default=None, repr=False)
    _keys: dict[str, int] | None = field(default=None, repr=False)

    @property
    def path(self) -> str:
        return str(self.doc.path)

    @property
    def style(self) -> str:
        return str(self.doc.style)

    @property
    def namespace_style(self) -> bool:
        """Keys are read as ``CELERY_<NEW_NAME>`` first (a Django settings module)."""
        return self.django or self.style == celery_settings.DJANGO_STYLE

    def keys(self) -> dict[str, int]:
        """Key as spelled -> line of its last definition."""
        if self._keys is None:
            self._keys = {key: line for key, line in self.definitions}
        return self._keys

    def value(self, name: str) -> Any:
        """The effective value of a setting (new name), whatever its spelling; ABSENT if unset."""
        return self.doc.current(name)

    def line(self, name: str) -> int | None:
        line: int | None = self.doc.line_of(name)
        return line

    def spelled(self, name: str) -> str:
        """The key the file uses for setting ``name`` (its effective one), else the file
        style's spelling."""
        line = self.line(name)
        for key, at in self.definitions:
            if at == line and canonical(key, self) == name:
                return key
        return celery_settings.spell(
            name, celery_settings.DJANGO_STYLE if self.django else self.style
        )

    def column(self, line: int | None, text: str) -> int | None:
        """1-based column of ``text`` on ``line`` (where the setting's name is written)."""
        if line is None:
            return None
        if self._lines is None:
            self._lines = self.doc.dump().decode("utf-8", "replace").splitlines()
        if not 0 < line <= len(self._lines):
            return None
        at = self._lines[line - 1].find(text)
        return at + 1 if at >= 0 else None


def version_key(version: str) -> tuple[int, int]:
    parts = version.split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def target_series(version: str | None) -> str:
    """The supported series that judges ``version`` ("5.3.4" -> "5.3"; newer -> newest).
    Raises ValueError (one sentence) for a version Celery's data does not cover."""
    if not version:
        return celery_settings.NEWEST
    celery_settings.names(version)  # validates
    series = ".".join(str(part) for part in version_key(version))
    if series not in celery_settings.VERSIONS:
        return celery_settings.NEWEST
    return series


def _referenced(values: Iterable[Any]) -> frozenset[str]:
    """Identifiers used by non-literal values (``f"redis://{host}"`` uses ``host``)."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Code):
            found.update(_IDENTIFIER.findall(value.source))
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
    return frozenset(found)


def _definitions(doc: Any) -> list[tuple[str, int]]:
    """(key as spelled, line) of every definition (``line_of`` alone would name the effective
    spelling's line for every spelling)."""
    key_lines = getattr(doc, "key_lines", None)
    if callable(key_lines):
        return list(key_lines())
    return [(key, doc.line_of(key) or 0) for key in doc.settings()]


def read_celery_file(doc: Document, facts: Facts) -> CeleryFile:
    series = target_series(facts.celery_version)
    settings = doc.settings()
    django = getattr(
        doc, "style", ""
    ) == celery_settings.DJANGO_STYLE or not DJANGO_MARKERS.isdisjoint(settings)
    is_app = bool(getattr(doc, "is_app_module", False))
    namespaced = django or (is_app and bool(_NAMESPACE_ARGUMENT.search(doc.dump())))
    return CeleryFile(
        doc,
        series,
        version_key(series),
        django and not is_app,
        namespaced,
        _definitions(doc),
        settings,
        _referenced(settings.values()),
    )


def canonical(key: str, cf: CeleryFile) -> str | None:
    """The setting ``key`` names in this file for the target version, else None."""
    if celery_settings.is_setting(key, cf.version):
        return key
    if cf.namespace_style:
        found = celery_settings.namespaced(key, version=cf.version)
        if found:
            return found
    found = (
        celery_settings.new_name(key, cf.version)
        if celery_settings.is_old_name(key, cf.version)
        else None
    )
    return found or celery_settings.namespaced(key, version=cf.version)


def is_candidate(key: str, cf: CeleryFile) -> bool:
    """Whether ``key`` is meant as a Celery setting (see the module docstring)."""
    if cf.django:
        return key.startswith(DJANGO_CELERY_PREFIXES)
    return True


def is_old_spelling(key: str, cf: CeleryFile) -> bool:
    if not celery_settings.is_old_name(key, cf.version):
        return False
    return not cf.namespace_style or celery_settings.namespaced(key, version=cf.version) is None


# ---------------------------------------------------------------- the broker


@dataclass(frozen=True)
class Broker:
    scheme: str | None  # "redis", "amqp" ... None when it cannot be told
    options: dict[Any, Any] | None  # broker_transport_options ({} unset; None not a literal)


def schemes(value: Any) -> set[str]:
    """URL schemes a value names: a URL literal, URL literals inside code (``os.environ.get(
    "X", "redis://...")``, an f-string), or a list of URLs (failover)."""
    if isinstance(value, str):
        return {m.group(1).lower() for part in value.split(";") if (m := _SCHEME.match(part))}
    if isinstance(value, Code):
        return {scheme.lower() for scheme in _URL_IN_CODE.findall(value.source)}
    if isinstance(value, (list, tuple)):
        return set().union(*(schemes(item) for item in value)) if value else set()
    return set()


def resolved(value: Any, cf: CeleryFile) -> Any:
    """A value that is just another top-level name of the file (a setting, or a helper
    variable such as ``_url`` in a Django settings module), replaced by that name's value."""
    variable = getattr(cf.doc, "variable", None)
    for _ in range(3):
        if not (isinstance(value, Code) and value.source.isidentifier()):
            break
        name = value.source
        if name in cf.settings:
            value = cf.settings[name]
        elif callable(variable) and (found := variable(name)) is not ABSENT:
            value = found
        else:
            break
    return value


def read_broker(cf: CeleryFile) -> Broker:
    found = schemes(resolved(cf.value("broker_url"), cf))
    options = resolved(cf.value(TRANSPORT), cf)
    return Broker(
        next(iter(found)) if len(found) == 1 else None,
        {} if options is ABSENT else options if isinstance(options, dict) else None,
    )
