"""PKG001-PKG004: kombu and Celery versions known to lose or wedge broker connections.

Facts (checked at the release tags): kombu 5.4.0 re-registers consumers after a Redis reconnect
(kombu#2007); kombu 5.7.0 health-checks the BRPOP connection (a half-open consumer recovers in
about brpop_timeout + 2 x health_check_interval = 51 s) and detects half-open pub/sub
connections; kombu < 5.7 drops ``health_check_interval`` for a connection class whose
``__init__`` does not name it (the ``sentinel://`` one takes ``**kwargs``; the guard in
``kombu/transport/redis.py`` accepts ``**kwargs`` from 5.7.0); Celery and kombu before 5.7 loop
in mingle against RabbitMQ 4.3, which refuses transient non-exclusive queues by default.
Celery 5.6 requires ``kombu>=5.6.0`` with no upper bound, so kombu's own version decides.

Where the versions come from:

* a running worker (``Facts.workers``: the versions of its own interpreter), judged with the
  Celery file of the host, against the worker's broker URL (else the file's);
* in ``lint``, a project's ``python-lock`` document (requirements*.txt, poetry.lock, uv.lock,
  Pipfile.lock, pdm.lock): kombu's pinned version, or its specifier's upper bound, or, with no
  kombu line, the bound a pinned Celery 5.5.x implies (``kombu<5.6``). The broker comes from a
  Celery file linted in the same group; with none, a Redis broker is assumed only when the
  file asks for ``celery[redis]`` or ``kombu[redis]`` (a bare ``redis`` package may be a cache
  or a result backend: not enough). PKG003 needs the RabbitMQ version (``--rabbitmq-version``).

PKG004 (kombu < 5.4.0) implies PKG001's missing fixes: only PKG004 is reported then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding
from remediate.rules.celery_file import (
    AMQP_SCHEMES,
    REDIS_SCHEMES,
    CeleryFile,
    read_broker,
    read_celery_file,
)

KOMBU_WEDGE_FIXED = Version("5.7.0")
KOMBU_CONSUMERS_FIXED = Version("5.4.0")
RABBITMQ_REFUSES_TRANSIENT = Version("4.3.0")

PKG001 = RuleInfo(
    "PKG001",
    "host",
    "warning",
    "Redis broker with kombu < 5.7: the silent wedge",
    "A worker on a Redis broker can stay alive, answer celery inspect ping and consume nothing "
    "after a reconnect or a half-open connection. kombu 5.7.0 health-checks the BRPOP "
    "connection (recovery in about 51 s) and detects half-open pub/sub connections. Celery 5.6 "
    "accepts any kombu >= 5.6.0, so the lock file's kombu decides, not the Celery version.",
    "kombu >= 5.7 (Celery 5.7)",
)
PKG002 = RuleInfo(
    "PKG002",
    "host",
    "error",
    "kombu < 5.7 with a sentinel:// broker drops health checks",
    "kombu before 5.7 passes health_check_interval only to a connection class whose __init__ "
    "names it; the sentinel connection class takes **kwargs, so with sentinel:// the option is "
    "silently dropped (every redis-py version) and dead connections are never health-checked. "
    "kombu 5.7.0 accepts **kwargs.",
    "kombu >= 5.7",
)
PKG003 = RuleInfo(
    "PKG003",
    "host",
    "error",
    "Celery/kombu before 5.7 against RabbitMQ 4.3 or later",
    "RabbitMQ 4.3 refuses transient non-exclusive queues by default; Celery and kombu 5.6 and "
    "older declare such queues and loop in mingle with (541) errors, never consuming. Fixed in "
    "Celery and kombu 5.7.0.",
    "upgrade Celery and kombu to 5.7; or, as a stopgap, "
    "deprecated_features.permit.transient_nonexcl_queues = true on every node and restart",
)
PKG004 = RuleInfo(
    "PKG004",
    "host",
    "error",
    "Redis broker with kombu < 5.4.0: consumers lost on reconnect",
    "kombu before 5.4.0 does not register its consumers again after a Redis reconnect "
    "(kombu#2007): the worker reconnects, answers pings and never consumes another task until "
    "it is restarted.",
    "upgrade kombu (>= 5.7 also fixes the BRPOP wedge)",
)
RULE_INFOS = (PKG001, PKG002, PKG003, PKG004)


@dataclass(frozen=True)
class Bound:
    """What is known of an installed version: exactly it, or at most/below it."""

    version: Version
    exact: bool  # the version itself
    inclusive: bool  # with exact False: <= (True) or < (False)
    evidence: str  # "kombu==5.3.7", "kombu<5.6 (celery 5.5.3 requires it)"
    line: int | None = None

    def below(self, threshold: Version) -> bool:
        if self.exact or self.inclusive:
            return self.version < threshold
        return self.version <= threshold


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _specifier_bound(name: str, specifier: str, line: int | None) -> Bound | None:
    try:
        specs = SpecifierSet(specifier)
    except ValueError:
        return None
    best: Bound | None = None
    for spec in specs:
        if spec.operator not in ("<", "<=", "==", "===") or "*" in spec.version:
            continue
        version = _version(spec.version)
        if version is None:
            continue
        bound = Bound(
            version,
            spec.operator in ("==", "==="),
            spec.operator == "<=",
            f"{name}{specifier}",
            line,
        )
        if best is None or bound.version < best.version:
            best = bound
    return best


def _locked(doc: Any, name: str) -> Bound | None:
    package = doc.package(name)
    if package is None:
        return None
    version = _version(package.version)
    if version is not None:
        return Bound(version, True, True, f"{name}=={package.version}", package.line)
    return _specifier_bound(name, package.specifier, package.line)


def lock_versions(doc: Any) -> tuple[Bound | None, Bound | None]:
    """(kombu, celery) of a python-lock document."""
    celery = _locked(doc, "celery")
    kombu = _locked(doc, "kombu")
    if (
        kombu is None
        and celery is not None
        and celery.exact
        and Version("5.5") <= celery.version < Version("5.6")
    ):
        kombu = Bound(
            Version("5.6"), False, False, f"kombu<5.6 ({celery.evidence} requires it)", celery.line
        )
    return kombu, celery


def judge(
    kombu: Bound | None, celery: Bound | None, scheme: str | None, rabbitmq_version: str | None
) -> list[tuple[RuleInfo, str, int | None]]:
    """(rule, message, line) for one set of versions against one broker."""
    found: list[tuple[RuleInfo, str, int | None]] = []
    if kombu is not None and scheme in REDIS_SCHEMES:
        if kombu.below(KOMBU_CONSUMERS_FIXED):
            found.append(
                (
                    PKG004,
                    (
                        f"{kombu.evidence} with a {scheme}:// broker: kombu before "
                        "5.4.0 does not register consumers again after a reconnect "
                        "(kombu#2007)"
                    ),
                    kombu.line,
                )
            )
        elif kombu.below(KOMBU_WEDGE_FIXED):
            found.append(
                (
                    PKG001,
                    (
                        f"{kombu.evidence} with a {scheme}:// broker: no BRPOP health "
                        "check and no half-open pub/sub detection (kombu 5.7.0): the "
                        "worker can wedge, alive and consuming nothing"
                    ),
                    kombu.line,
                )
            )
        if scheme == "sentinel" and kombu.below(KOMBU_WEDGE_FIXED):
            found.append(
                (
                    PKG002,
                    (
                        f"{kombu.evidence} with a sentinel:// broker: "
                        "health_check_interval is silently dropped"
                    ),
                    kombu.line,
                )
            )
    rabbit = _version(rabbitmq_version)
    if scheme in AMQP_SCHEMES and rabbit is not None and rabbit >= RABBITMQ_REFUSES_TRANSIENT:
        old = [b for b in (celery, kombu) if b is not None and b.below(KOMBU_WEDGE_FIXED)]
        if old:
            found.append(
                (
                    PKG003,
                    (
                        f"{' and '.join(b.evidence for b in old)} against RabbitMQ "
                        f"{rabbitmq_version}: transient non-exclusive queues are refused "
                        "and the worker loops in mingle, never consuming"
                    ),
                    old[0].line,
                )
            )
    return found


# ---------------------------------------------------------------- lint: lock files


def _assumed_scheme(doc: Any) -> str | None:
    """``redis`` when the lock asks for Celery's or kombu's redis extra, else None."""
    if "redis" in doc.extras_of("celery") or "redis" in doc.extras_of("kombu"):
        return "redis"
    return None


def _lock_findings(doc: Any, scheme: str | None, facts: Facts, why: str) -> list[Finding]:
    kombu, celery = lock_versions(doc)
    return [
        finding(rule, doc.path, line, f"{message} ({why})")
        for rule, message, line in judge(kombu, celery, scheme, facts.rabbitmq_version)
    ]


def check_lock(doc: Document, facts: Facts) -> list[Finding]:
    """A lock file alone: a Redis broker assumed from the redis extra; PKG003 when the
    RabbitMQ version is given and no redis extra says the broker is Redis."""
    scheme = _assumed_scheme(doc)
    if scheme is not None:
        return _lock_findings(doc, scheme, facts, "the redis extra is requested")
    if facts.rabbitmq_version:
        return _lock_findings(doc, "amqp", facts, "broker assumed RabbitMQ: its version is given")
    return []


def check_locks_with_celery(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    """Lock files judged against the broker of the Celery files linted with them (what
    ``check_lock`` already reported is left out)."""
    locks = [doc for doc in docs if doc.kind == "python-lock"]
    if not locks:
        return []
    schemes = {
        read_broker(read_celery_file(doc, facts)).scheme for doc in docs if doc.kind == "celery"
    } - {None}
    if len(schemes) != 1:
        return []
    scheme = next(iter(schemes))
    findings = []
    for doc in locks:
        alone = {(f.rule, f.line) for f in check_lock(doc, facts)}
        findings += [
            f
            for f in _lock_findings(doc, scheme, facts, f"the Celery files use {scheme}://")
            if (f.rule, f.line) not in alone
        ]
    return findings


# ---------------------------------------------------------------- host: running workers


def check_workers(cf: CeleryFile, facts: Facts) -> list[Finding]:
    """PKG001-PKG004 for the running workers of the host, on the Celery file's broker_url."""
    if not facts.workers:
        return []
    file_scheme = read_broker(cf).scheme
    line = cf.line("broker_url")
    column = cf.column(line, cf.spelled("broker_url"))
    findings = []
    for worker in facts.workers:
        url = worker.broker_url or ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else file_scheme
        if scheme != file_scheme and file_scheme is not None and "://" in url:
            continue  # another app's worker
        versions = worker.versions
        kombu = (
            Bound(v, True, True, f"kombu {versions.kombu}")
            if (v := _version(versions.kombu))
            else None
        )
        celery = (
            Bound(v, True, True, f"celery {versions.celery}")
            if (v := _version(versions.celery))
            else None
        )
        for rule, message, _ in judge(kombu, celery, scheme, facts.rabbitmq_version):
            findings.append(
                finding(
                    rule,
                    cf.path,
                    line,
                    f"the running worker pid {worker.pid} has {message}",
                    column=column,
                )
            )
    return findings


def check_celery_workers(doc: Document, facts: Facts) -> list[Finding]:
    if not facts.workers:
        return []
    return check_workers(read_celery_file(doc, facts), facts)
