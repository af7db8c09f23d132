"""``remediate lint``: local config files in, findings out. No hosts, no SSH.

    run = lint_paths([Path("deploy/")], kind="auto", celery_version="5.4")
    run.findings      # LintFinding(finding, fingerprint), sorted by path, line, column, rule
    run.exit_code("warning")

``collect`` walks and reads (the only I/O); ``lint_sources`` is pure: it parses each file as
its kind, runs the rules on it, then runs the cross-component rules on each group of files
linted together. A file that cannot be parsed is a ``PARSE`` finding, a file named on the
command line whose kind cannot be told is a ``KIND`` finding: never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from remediate.errors import ParseError
from remediate.formats import KINDS
from remediate.lint.config import RuleFilter
from remediate.lint.justify import with_justifications
from remediate.lint.kinds import detect_kind, is_binary, may_be_config
from remediate.lint.manifests import MANIFEST_KINDS
from remediate.model.plans import Finding
from remediate.report.exit import ExitCode, exit_code
from remediate.rules import RULES, Facts, RuleInfo

KIND_CHOICES = ("auto", *KINDS, *MANIFEST_KINDS)
SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

#: lint's own rules, beside the domain rules (a rules module that defines them wins)
LINT_RULES: dict[str, RuleInfo] = {
    "PARSE": RuleInfo(
        "PARSE",
        "lint",
        "error",
        "the file cannot be parsed as its kind",
        "The program that reads this file would refuse it (or the file is a template that must "
        "be rendered first), so none of its settings could be checked.",
        "fix the line named in the message, or lint the rendered file",
    ),
    "KIND": RuleInfo(
        "KIND",
        "lint",
        "info",
        "not a config file of a kind this tool knows",
        "Named on the command line, but neither its name nor its content says redis, rabbitmq, "
        "celery, limits, systemd, shell, supervisord or python-lock, so it was not linted.",
        "pass --kind KIND to lint it as that kind, or leave it out",
    ),
}


SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        "node_modules",
        ".venv",
        "venv",
        "virtualenv",
        ".tox",
        ".nox",
        ".eggs",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)


def all_rules() -> dict[str, RuleInfo]:
    """Every rule a lint run may report, by id: the domain rules and lint's own (manifest
    rules included)."""
    from remediate.lint.manifests.idle_path import RULE_INFOS as IDLE_RULES
    from remediate.lint.manifests.workers import RULE_INFOS as WORKER_RULES

    manifest_rules = {info.id: info for info in (*WORKER_RULES, *IDLE_RULES)}
    return {**LINT_RULES, **manifest_rules, **RULES}


# -- files in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One file to lint: its path as reported, its bytes, and its kind (None: unknown)."""

    path: str
    data: bytes
    kind: str | None


@dataclass(frozen=True)
class PathError:
    """A path that could not be read: the run goes on, and exits 1."""

    path: str
    reason: str


def display_path(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when under it (POSIX separators), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(cwd).as_posix()
    except ValueError:
        return absolute.as_posix()


def walk(directory: Path, errors: list[PathError], cwd: Path) -> Iterable[Path]:
    """Files under ``directory`` in a stable order, skipping VCS, cache and venv folders;
    a folder that cannot be listed is a PathError."""

    def unreadable(exc: OSError) -> None:
        errors.append(
            PathError(display_path(Path(exc.filename or directory), cwd), exc.strerror or str(exc))
        )

    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
        )
        for name in sorted(files):
            yield Path(root) / name


def collect(
    paths: Sequence[Path], kind: str = "auto", cwd: Path | None = None
) -> tuple[list[SourceFile], list[PathError]]:
    """Read the files named or found under ``paths``. Directories are walked; what is binary
    or of no known kind is skipped there, but kept (as kind None) when named explicitly."""
    cwd = Path(os.path.abspath(cwd or Path.cwd()))
    sources: list[SourceFile] = []
    errors: list[PathError] = []
    seen: set[str] = set()
    for given in paths:
        if given.is_dir():
            found = [(p, False) for p in walk(given, errors, cwd)]
        elif given.exists() or given.is_symlink():
            found = [(given, True)]
        else:
            errors.append(PathError(display_path(given, cwd), "no such file or directory"))
            continue
        for path, named in found:
            shown = display_path(path, cwd)
            if shown in seen or (not named and not path.is_file()):
                continue
            seen.add(shown)
            if not named and kind == "auto" and not may_be_config(path.name):
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                errors.append(PathError(shown, exc.strerror or str(exc)))
                continue
            if is_binary(data):
                if named:
                    sources.append(SourceFile(shown, data, None))
                continue
            detected = kind if kind != "auto" else detect_kind(os.path.abspath(path), data)
            if detected or named:
                sources.append(SourceFile(shown, data, detected))
    return sources, errors


# -- findings out --------------------------------------------------------------------------


@dataclass(frozen=True)
class LintFinding:
    """A finding and its fingerprint: stable across runs and line moves (rule, the line's
    content, and which occurrence of that line in the file it is)."""

    finding: Finding
    fingerprint: str
    justification: str = ""  # a suppressed finding's reason (``# remediate: ignore X -- why``)


def lint_sources(sources: Sequence[SourceFile], facts: Facts | None = None) -> list[LintFinding]:
    """Findings of every file, then of the files linted together: pure, no I/O."""
    from remediate.formats import parse
    from remediate.lint.manifests.lint import ManifestRun
    from remediate.rules import check, check_together

    facts = facts or Facts()
    findings: list[Finding] = []
    parsed: list[tuple[SourceFile, Any]] = []
    manifests = ManifestRun()
    for source in sources:
        if source.kind is None:
            findings.append(_unknown_kind(source))
            continue
        if source.kind in MANIFEST_KINDS:
            findings.extend(
                manifests.add(
                    source.path,
                    source.kind,
                    source.data,
                    facts,
                    lambda exc, s=source: parse_finding(s, exc),
                )
            )
            continue
        try:
            doc = parse(source.kind, source.data, source.path)
        except ParseError as exc:
            findings.append(parse_finding(source, exc))
            continue
        parsed.append((source, doc))
        findings.extend(check(doc, facts))
    docs = [doc for _, doc in parsed] + manifests.documents
    for group in groups_linted_together([*docs, *manifests.holders]):
        documents = [doc for doc in group if doc.kind != "path"]
        if documents:  # one file may do (X004, SYS002)
            findings.extend(manifests.mapped(check_together(documents, facts)))
        findings.extend(manifests.together(group, facts))
    return fingerprint(set(findings), {s.path: s.data for s in sources})


def groups_linted_together(docs: Sequence[Any]) -> list[list[Any]]:
    """The documents the cross-component rules judge together: the largest directories that
    hold one system (at most one Redis server config and one main rabbitmq.conf), so a host
    tree (``etc/redis/redis.conf`` + ``srv/app/celeryconfig.py``) is one group and a fleet
    repository (``hosts/web1/...``, ``hosts/web2/...``) one group per host. A directory with
    more is split into its subdirectories; the files directly in it are a group of their own."""

    def one_system(group: list[Any]) -> bool:
        servers = [d for d in group if d.kind == "redis" and getattr(d, "flavor", "") == "server"]
        nodes = [
            d
            for d in group
            if d.kind == "rabbitmq" and PurePosixPath(d.path).parent.name != "conf.d"
        ]
        return len(servers) <= 1 and len(nodes) <= 1

    def split(group: list[Any], depth: int) -> list[list[Any]]:
        if one_system(group):
            return [group]
        here: list[Any] = []
        below: dict[str, list[Any]] = defaultdict(list)
        for doc in group:
            parts = PurePosixPath(doc.path).parent.parts
            (below[parts[depth]] if len(parts) > depth else here).append(doc)
        return ([here] if here else []) + [
            g for child in sorted(below) for g in split(below[child], depth + 1)
        ]

    parents = [str(PurePosixPath(d.path).parent) for d in docs]
    if not parents:
        return []
    try:
        common = PurePosixPath(os.path.commonpath(parents))
    except ValueError:  # absolute and relative paths: start from the top
        common = PurePosixPath()
    return split(list(docs), len(common.parts))


def parse_finding(source: SourceFile, error: ParseError) -> Finding:
    """The PARSE finding for a file its kind's parser refuses, at the line it names."""
    column, reason = error.column, error.message
    templated = _looks_templated(source.data)
    return Finding(
        "PARSE",
        "error",
        source.kind or "",
        source.path,
        error.line,
        f"cannot parse as {source.kind}: {reason}"
        + (" (the file looks like a template: lint the rendered file)" if templated else ""),
        LINT_RULES["PARSE"].fix,
        column,
    )


def _unknown_kind(source: SourceFile) -> Finding:
    what = "a binary file" if is_binary(source.data) else "not a file of a known kind"
    return Finding(
        "KIND",
        "info",
        "",
        source.path,
        None,
        f"{what}: not linted (kinds: {', '.join(KINDS)})",
        LINT_RULES["KIND"].fix,
    )


def _looks_templated(data: bytes) -> bool:
    return bool(re.search(rb"\{\{|\{%|<%|\$\{", data))


def fingerprint(findings: Iterable[Finding], contents: dict[str, bytes]) -> list[LintFinding]:
    """Fingerprint and sort findings. The fingerprint hashes the rule, the finding's line
    with blanks collapsed (the message when it has no line) and the occurrence number of
    that same content in the file, so edits above a finding leave it unchanged."""
    lines = {path: data.split(b"\n") for path, data in contents.items()}
    occurrences: Counter[tuple[str, str, str]] = Counter()
    out = []
    for finding in sorted(findings, key=sort_key):
        content = finding.message
        text = lines.get(finding.path, [])
        if finding.line and 0 < finding.line <= len(text):
            content = " ".join(text[finding.line - 1].decode("utf-8", "replace").split())
        key = (finding.rule, finding.path, content)
        occurrences[key] += 1
        digest = hashlib.sha256(f"{finding.rule}\0{content}\0{occurrences[key]}".encode())
        out.append(LintFinding(finding, digest.hexdigest()[:32]))
    return out


def sort_key(finding: Finding) -> tuple[str, int, int, str, str]:
    return (finding.path, finding.line or 0, finding.column or 0, finding.rule, finding.message)


def without_baseline(
    findings: Sequence[LintFinding], baseline: dict[str, Any]
) -> tuple[list[LintFinding], int]:
    """The findings not in an earlier ``lint --format json`` report, and how many were."""
    if (
        baseline.get("schema") != 1
        or baseline.get("kind") != "lint"
        or not isinstance(baseline.get("findings"), list)
    ):
        raise ParseError("not a remediate lint JSON report (schema 1, kind lint)")
    known = Counter(
        (f.get("rule"), f.get("path"), f.get("fingerprint"))
        for f in baseline["findings"]
        if isinstance(f, dict)
    )
    kept = []
    for item in findings:
        key = (item.finding.rule, item.finding.path, item.fingerprint)
        if known[key]:
            known[key] -= 1
        else:
            kept.append(item)
    return kept, len(findings) - len(kept)


# -- one run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintRun:
    """The outcome of one lint run: what was linted, what was found, what could not be read."""

    files: tuple[tuple[str, str | None], ...]  # (path, kind) of every file looked at
    findings: tuple[LintFinding, ...]
    errors: tuple[PathError, ...] = ()
    baselined: int = 0
    cwd: Path | None = None  # what relative paths are relative to (None: the working directory)

    def failing(self, fail_on: str) -> list[LintFinding]:
        """Unsuppressed findings at or above ``fail_on``."""
        floor = SEVERITY_RANK[fail_on]
        return [
            f
            for f in self.findings
            if not f.finding.suppressed and SEVERITY_RANK.get(f.finding.severity, 2) >= floor
        ]

    def exit_code(self, fail_on: str) -> ExitCode:
        """1 when a path could not be read, 2 when a finding is at or above ``fail_on``."""
        return exit_code(failed=len(self.errors), drift=bool(self.failing(fail_on)))


@dataclass(frozen=True)
class LintTargets:
    """What lint is told about the systems the files run on (its options), as rule Facts."""

    celery_version: str | None = None  # --celery-version
    rabbitmq_version: str | None = None  # --rabbitmq-version (RMQ009, RMQ008, PKG003)
    redis_version: str | None = None  # --redis-version (RDS008; default: newest, 7+)
    path_idle_timeout: int | None = None  # --path-idle-timeout (X004)
    path_counts_data: bool = False  # --path-counts-data (X004)

    def facts(self) -> Facts:
        return Facts(
            celery_version=self.celery_version,
            rabbitmq_version=self.rabbitmq_version,
            redis_version=self.redis_version,
            path_idle_timeout=self.path_idle_timeout,
            path_counts_data=self.path_counts_data,
        )


def lint_paths(
    paths: Sequence[Path],
    kind: str = "auto",
    celery_version: str | None = None,
    baseline: dict[str, Any] | None = None,
    cwd: Path | None = None,
    targets: LintTargets | None = None,
    rules: RuleFilter | None = None,
) -> LintRun:
    """Collect, lint and (with an earlier JSON report) drop the findings already known.
    ``targets`` (the versions and path facts lint is told) overrides ``celery_version``;
    ``rules`` (--select/--ignore and the config file) drops the rules not wanted."""
    sources, errors = collect(paths, kind, cwd)
    targets = targets or LintTargets(celery_version=celery_version)
    findings = with_justifications(lint_sources(sources, targets.facts()), sources)
    if rules is not None:
        findings = [f for f in findings if rules.keeps(f.finding.rule)]
    baselined = 0
    if baseline is not None:
        findings, baselined = without_baseline(findings, baseline)
    return LintRun(
        tuple((s.path, s.kind) for s in sources),
        tuple(findings),
        tuple(errors),
        baselined,
        Path(os.path.abspath(cwd or Path.cwd())),
    )
