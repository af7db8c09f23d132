"""Celery setting names: which names of a config file Celery reads, and how (CEL001-CEL003).

How the rules judge the candidate names ``celery_file`` reads from a file:

* a *Django settings module* (Django's own settings such as ``INSTALLED_APPS``, or keys in
  the ``CELERY_`` namespace): only ``CELERY*`` and ``BROKER_*`` names are Celery's; every other
  name (``DEBUG``, ``DATABASES``, helpers) belongs to Django or the project;
* a plain *celeryconfig.py*: lower-case names are settings (so an unknown one is a no-op,
  CEL001) unless another setting's value uses it (a helper variable) or it belongs to a known
  extension (``redbeat_*``); upper-case names are old names, and one Celery does not know is
  reported only when it is a near miss of a real name (a typo): a project constant such as
  ``OL_CONFIG`` is not Celery's business;
* an *app module* (``app.conf.update(...)``, ``app.conf.x = ...``): every key written to
  ``app.conf``, judged like a celeryconfig.py. Its module-level variables are code, except
  that one spelled as a Celery setting (``BROKER_CONNECTION_TIMEOUT = 120`` beside
  ``app = Celery(...)``) that the module never reads and that no ``config_from_object``
  of the module itself (``__name__``) loads is a silent no-op: CEL001.

CEL003 mirrors ``celery/app/utils.py`` ``detect_settings``: new names are those of
``celery/app/defaults.py``; when old names outnumber them the file is old-style, else new-style
(a tie goes to new); a name of the minority style is an error unless the file also spells
that same setting the majority's way; with a namespace (Django) nothing is ever an error.
"""

from __future__ import annotations

from remediate.formats import celery_settings
from remediate.formats.celery_values import Code
from remediate.model.plans import Finding
from remediate.rules.base import RuleInfo, finding
from remediate.rules.celery_file import (
    CeleryFile,
    canonical,
    is_candidate,
    is_old_spelling,
    version_key,
)

CEL001 = RuleInfo(
    "CEL001",
    "celery",
    "warning",
    "not a Celery setting for the target version",
    "Celery reads its settings once at start-up and ignores unknown names silently, so a typo "
    "or an invented setting is a no-op. Popular advice invents several: "
    "broker_connection_retry_delay, broker_connection_retry_on_timeout, "
    "worker_heartbeat_interval and worker_heartbeat_expire do not exist (event heartbeats are "
    "the worker's --heartbeat-interval flag), and a top-level visibility_timeout is never read: "
    "it belongs in broker_transport_options. The real names change with the version "
    "(celery_version / --celery-version).",
    "remove it, or rename it to the real setting the message names",
)
CEL002 = RuleInfo(
    "CEL002",
    "celery",
    "info",
    "old-style upper-case setting name",
    "Old upper-case names (BROKER_HEARTBEAT, CELERY_ACKS_LATE ...) still work, until Celery 6. "
    "Rename all of a file's names at once: Celery refuses a file that mixes the two styles.",
    "rename it to the new name (`celery upgrade settings FILE` renames a whole file)",
)
CEL003 = RuleInfo(
    "CEL003",
    "celery",
    "error",
    "old and new setting names mixed: Celery refuses to start",
    "celery/app/utils.py detect_settings raises ImproperlyConfigured at start-up when a file "
    "mixes old upper-case and new lower-case names: the majority style wins (a tie goes to the "
    "new style) and every name of the other style is an error, unless the file also spells "
    "that same setting the majority's way. Keys under a Django namespace (CELERY_<NEW_NAME>) "
    "may be mixed freely.",
    "rename it to the majority style's name",
)
RULE_INFOS = (CEL001, CEL002, CEL003)

#: settings that Celery extensions read from the same configuration (celery-redbeat,
#: celery-singleton): not Celery's, not a typo
EXTENSION_PREFIXES = ("redbeat_", "singleton_")
#: invented settings and what to say about them: (why it does nothing, fix)
_HEARTBEAT_FIX = (
    "remove it; the AMQP heartbeat is broker_heartbeat (pyamqp only), a Redis "
    "broker needs broker_transport_options socket_keepalive and "
    "health_check_interval"
)
NOT_SETTINGS: dict[str, tuple[str, str]] = {
    "broker_connection_retry_delay": (
        (
            "the worker's reconnect backoff is fixed (2, 4, 6 ... s, capped at 30 s with kombu "
            "5.7, 32 s before)"
        ),
        (
            "remove it; broker_connection_max_retries (None = forever) bounds how long the worker "
            "keeps trying"
        ),
    ),
    "broker_connection_retry_on_timeout": (
        (
            "broker_connection_retry and broker_connection_max_retries govern reconnecting, "
            "broker_connection_retry_on_startup the first connection"
        ),
        "remove it",
    ),
    "worker_heartbeat_interval": (
        (
            "event heartbeats are the worker's --heartbeat-interval flag, unrelated to the broker "
            "connection"
        ),
        _HEARTBEAT_FIX,
    ),
    "worker_heartbeat_expire": (
        (
            "event heartbeats are the worker's --heartbeat-interval and --without-heartbeat flags, "
            "unrelated to the broker connection"
        ),
        _HEARTBEAT_FIX,
    ),
}
#: kombu Redis transport options people set at the top level, where nothing reads them
TRANSPORT_OPTIONS = frozenset(
    {
        "visibility_timeout",
        "socket_keepalive",
        "socket_keepalive_options",
        "socket_timeout",
        "socket_connect_timeout",
        "health_check_interval",
        "retry_on_timeout",
        "max_connections",
        "fanout_prefix",
        "fanout_patterns",
        "global_keyprefix",
        "queue_order_strategy",
    }
)
_MAX_TYPO_DISTANCE = 2
_SHOWN_NAMES = 4


# ---------------------------------------------------------------- CEL001


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings only)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def near_miss(key: str, version: str) -> str | None:
    """A real name ``key`` is a typo of (at most two edits away), else None."""
    suggestion = celery_settings.suggest(key, version)
    if suggestion and _edit_distance(key.lower(), suggestion.lower()) <= _MAX_TYPO_DISTANCE:
        return suggestion
    return None


def _other_versions(key: str, cf: CeleryFile) -> list[str]:
    return [
        v
        for v in celery_settings.VERSIONS
        if celery_settings.is_setting(key, v)
        or celery_settings.is_old_name(key, v)
        or celery_settings.namespaced(key, version=v)
    ]


def _bare(key: str) -> str:
    """``CELERY_VISIBILITY_TIMEOUT`` / ``VISIBILITY_TIMEOUT`` -> ``visibility_timeout``."""
    lowered = key.lower()
    return lowered.removeprefix("celery_") if key.isupper() else lowered


def _unknown_name(key: str, line: int, cf: CeleryFile) -> Finding | None:
    """CEL001 for a name the target version does not read, or None when it is not Celery's."""
    where = cf.column(line, key)
    elsewhere = _other_versions(key, cf)
    if elsewhere:
        span = elsewhere[0] if len(elsewhere) == 1 else f"{elsewhere[0]}-{elsewhere[-1]}"
        when = "added later" if version_key(elsewhere[0]) > cf.version_key else "removed"
        return finding(
            CEL001,
            cf.path,
            line,
            f"{key} is not read by Celery {cf.version} ({when}: it is a setting in "
            f"Celery {span}); Celery ignores it silently",
            "remove it, or set celery_version to the Celery the workers run",
            column=where,
        )
    bare = _bare(key)
    prefixed = key.startswith("CELERY_")
    if bare in NOT_SETTINGS and (
        not key.isupper() or prefixed or key.startswith(("BROKER_", "WORKER_"))
    ):
        why, fix = NOT_SETTINGS[bare]
        return finding(
            CEL001,
            cf.path,
            line,
            f"{key} is not a Celery setting, Celery ignores it ({why})",
            fix,
            column=where,
        )
    if bare in TRANSPORT_OPTIONS and (not key.isupper() or prefixed):
        return finding(
            CEL001,
            cf.path,
            line,
            f"a top-level {key} is never read: {bare} is a broker transport "
            f"option, it belongs in broker_transport_options",
            f"move it into broker_transport_options = {{'{bare}': ...}}",
            column=where,
        )
    if bare.startswith(EXTENSION_PREFIXES):
        return None
    suggestion = near_miss(key, cf.version)
    if key.isupper() and suggestion is None:
        return None  # a project constant, or an extension's setting
    if (
        not key.isupper()
        and suggestion is None
        and (key in cf.referenced or isinstance(cf.settings.get(key), Code))
    ):
        return None  # a helper: other settings use it, or it holds an object (a logger...)
    message = f"{key} is not a Celery {cf.version} setting; Celery ignores it silently"
    suggestion = suggestion or celery_settings.suggest(key, cf.version)  # difflib, looser
    if suggestion:
        real = canonical(suggestion, cf) or suggestion
        alias = f" ({real})" if real != suggestion else ""
        return finding(
            CEL001,
            cf.path,
            line,
            f"{message}: did you mean {suggestion}{alias}?",
            f"rename it to {suggestion}",
            column=where,
        )
    return finding(CEL001, cf.path, line, message, column=where)


def _reads_itself(cf: CeleryFile) -> bool:
    """Whether the app module loads its own variables (``config_from_object(__name__)``, its
    own module name, or an object the file cannot name)."""
    own = cf.path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    for source in cf.doc.config_sources():
        if isinstance(source, str):
            if source.split(":")[0].rsplit(".", 1)[-1] == own:
                return True
        elif not (isinstance(source, Code) and source.source.startswith(("'", '"'))):
            return True  # __name__, a settings object, a variable: it may be this module
    return False


def _setting_spelled(key: str, cf: CeleryFile) -> str | None:
    """The setting an app module variable is spelled as (any style), else None."""
    if key.isupper():
        if celery_settings.is_old_name(key, cf.version):
            return celery_settings.new_name(key, cf.version)
        return celery_settings.namespaced(key, version=cf.version)
    return key if celery_settings.is_setting(key, cf.version) else None


def app_module_variables(cf: CeleryFile) -> list[Finding]:
    """CEL001 for a module variable of an app module spelled as a Celery setting that nothing
    reads: config_from_object loads another module, so it is a silent no-op."""
    doc = cf.doc
    if not getattr(doc, "is_app_module", False) or _reads_itself(cf):
        return []
    loaded = doc.loaded_names()
    findings = []
    for key, line in doc.variable_lines():
        name = _setting_spelled(key, cf)
        if name is None or key in loaded:
            continue
        receiver = doc.app_receiver or "app"
        source = (
            "config_from_object loads another module"
            if doc.config_sources()
            else f"the app reads {receiver}.conf and its Celery(...) arguments only"
        )
        findings.append(
            finding(
                CEL001,
                cf.path,
                line,
                f"{key} is a variable of this app module, not a setting: nothing reads it "
                f"({source}), so Celery ignores it silently",
                f"set it where the configuration is read ({receiver}.conf.{name} = ..., or in the "
                "module config_from_object loads)",
                column=cf.column(line, key),
            )
        )
    return findings


def unknown_names(cf: CeleryFile) -> list[Finding]:
    findings = []
    for key, line in cf.keys().items():
        if not is_candidate(key, cf) or canonical(key, cf) is not None:
            continue
        found = _unknown_name(key, line, cf)
        if found is not None:
            findings.append(found)
    return findings


# ---------------------------------------------------------------- CEL002 / CEL003


def _twins(key: str, name: str, cf: CeleryFile) -> list[tuple[str, int]]:
    """Other spellings of setting ``name`` the file defines."""
    return [
        (other, line)
        for other, line in cf.keys().items()
        if other != key and is_candidate(other, cf) and canonical(other, cf) == name
    ]


def mixed_styles(cf: CeleryFile) -> dict[str, Finding]:
    """CEL003 per key, as Celery's detect_settings decides it."""
    if cf.namespaced or cf.django:
        return {}
    keys = cf.keys()
    new = {
        k
        for k in keys
        if celery_settings.is_setting(k, cf.version)
        and celery_settings.old_name(k, cf.version) is not None
    }  # defaults.py names only
    old = {k for k in keys if celery_settings.is_old_name(k, cf.version)}
    old_style = len(old) > len(new)
    minority = new if old_style else old
    findings: dict[str, Finding] = {}
    for key in sorted(minority):
        name = canonical(key, cf)
        if name is None or _twins(key, name, cf):
            continue  # two spellings of one setting: Celery accepts that
        if old_style:
            target = celery_settings.old_name(key, cf.version) or key
            message = (
                f"{key} is a new-style name in a file of old-style names ({len(old)} old, "
                f"{len(new)} new): Celery refuses to start (ImproperlyConfigured)"
            )
        else:
            target = name
            message = (
                f"{key} is an old-style name in a file of new-style names ({len(new)} new, "
                f"{len(old)} old): Celery refuses to start (ImproperlyConfigured)"
            )
        findings[key] = finding(
            CEL003,
            cf.path,
            keys[key],
            message,
            f"rename it to {target}",
            column=cf.column(keys[key], key),
        )
    return findings


def old_names(cf: CeleryFile, mixed: dict[str, Finding]) -> list[Finding]:
    """CEL002: one finding for an old-style file (its names are renamed together), else one
    per old name Celery reads (those CEL003 reports are left to it)."""
    django = cf.namespace_style
    old = [
        (key, line)
        for key, line in cf.keys().items()
        if key not in mixed and is_candidate(key, cf) and is_old_spelling(key, cf)
    ]
    if not old:
        return []
    if cf.style == celery_settings.OLD_STYLE and not django:
        return [_old_style_file(cf, old)]
    findings = []
    for key, line in old:
        name = celery_settings.new_name(key, cf.version) or key
        twins = _twins(key, name, cf)
        if twins:
            other, at = twins[-1]
            fix = f"keep one spelling: {other} (line {at}) sets {name} too"
        else:
            fix = f"rename it to {f'CELERY_{name.upper()}' if django else name}"
        findings.append(
            finding(
                CEL002,
                cf.path,
                line,
                f"{key} is the old name of {name}: it works until Celery 6",
                fix,
                column=cf.column(line, key),
            )
        )
    return findings


def _old_style_file(cf: CeleryFile, old: list[tuple[str, int]]) -> Finding:
    shown = ", ".join(
        f"{key} ({celery_settings.new_name(key, cf.version)})" for key, _ in old[:_SHOWN_NAMES]
    )
    more = f" and {len(old) - _SHOWN_NAMES} more" if len(old) > _SHOWN_NAMES else ""
    fix = f"rename them all at once: `celery upgrade settings {cf.path}`"
    if not cf.namespaced:
        fix += " (renaming only some mixes styles, which Celery refuses)"
    line = min(line for _, line in old)
    first = next(key for key, at in old if at == line)
    return finding(
        CEL002,
        cf.path,
        line,
        f"{len(old)} setting(s) use old upper-case names, which work until Celery 6: {shown}{more}",
        fix,
        column=cf.column(line, first),
    )


def check_names(cf: CeleryFile) -> list[Finding]:
    mixed = mixed_styles(cf)
    return (
        unknown_names(cf) + app_module_variables(cf) + old_names(cf, mixed) + list(mixed.values())
    )
