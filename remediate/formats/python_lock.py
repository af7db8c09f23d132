"""A project's pinned Python packages: ``requirements*.txt``, ``poetry.lock``, ``uv.lock``,
``Pipfile.lock`` and ``pdm.lock`` (the ``python-lock`` kind), kept byte for byte.

    doc = parse(data, "requirements.txt")
    doc.package("kombu")        # LockedPackage(name="kombu", version="5.3.7", line=4, ...)
    doc.settings()              # {"celery": "==5.3.6", "kombu": "==5.3.7", ...}

Versions, specifiers and requirement lines are read with ``packaging``; TOML locks with
``tomllib``, Pipfile.lock with ``json``. Names are normalized (PEP 503). A requirements line
that only bounds a package (``kombu>=5.3,<5.4``) keeps its specifier and no version; options
(``-r``, ``-e``, ``--hash``), URLs and markers are kept but not judged. Lock files are written by
their tools, so only requirements files can be edited (``set`` pins ``name==version``).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from remediate.errors import ParseError
from remediate.formats.base import Document, Edit
from remediate.formats.lines import LineBuffer, decode, encode, split_lines

FLAVORS = ("requirements", "poetry", "uv", "pipfile", "pdm")
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class LockedPackage:
    name: str  # normalized: "kombu", "redis"
    version: str | None  # the exact version ("5.3.7"), None when only bounded
    specifier: str  # "==5.3.7", ">=5.3,<5.4" ("" for a lock file's exact version)
    extras: tuple[str, ...]  # extras requested for it ("redis" of celery[redis])
    line: int | None  # 1-based line of its entry


def flavor_of(path: str) -> str:
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    for suffix in (".j2", ".jinja", ".jinja2", ".tpl", ".template", ".example", ".sample"):
        name = name.removesuffix(suffix)
    if name == "poetry.lock":
        return "poetry"
    if name == "uv.lock":
        return "uv"
    if name == "pipfile.lock":
        return "pipfile"
    if name == "pdm.lock":
        return "pdm"
    return "requirements"


class PythonLockDocument(Document):
    kind = "python-lock"

    def __init__(self, text: str, path: str, flavor: str) -> None:
        self.path = path
        self.problems = []
        self.flavor = flavor
        self.raw = [line.text for line in split_lines(text)]
        self.packages: list[LockedPackage] = []
        self._read()

    # --- reading ----------------------------------------------------------------

    def _read(self) -> None:
        if self.flavor == "requirements":
            self.packages = _requirements(self.raw)
        elif self.flavor == "pipfile":
            self.packages = _pipfile(self.raw, self.path)
        else:
            self.packages = _toml_lock(self.raw, self.path, self.flavor)

    def dump(self) -> bytes:
        return encode("".join(self.raw))

    def package(self, name: str) -> LockedPackage | None:
        """The (last) entry of package ``name``, or None."""
        wanted = canonicalize_name(name)
        found = [p for p in self.packages if p.name == wanted]
        return found[-1] if found else None

    def extras_of(self, name: str) -> frozenset[str]:
        """Every extra requested for ``name`` anywhere in the file."""
        wanted = canonicalize_name(name)
        return frozenset(e for p in self.packages if p.name == wanted for e in p.extras)

    def settings(self) -> dict[str, Any]:
        return {
            p.name: (f"=={p.version}" if p.version and not p.specifier else p.specifier)
            for p in self.packages
        }

    def line_of(self, key: str) -> int | None:
        found = self.package(key)
        return found.line if found else None

    # --- editing ----------------------------------------------------------------

    def set(self, key: str, value: Any) -> Edit:
        if self.flavor != "requirements":
            raise ValueError(
                f"{self.path} is written by its tool ({self.flavor}): change the "
                "project's constraints and lock again"
            )
        line = f"{canonicalize_name(key)}=={value}"
        found = self.package(key)
        if found is not None and found.line is not None:
            index = found.line - 1
            text = body_of(self.raw[index])
            self.raw[index] = line + self.raw[index][len(text) :]
            self._read()
            return Edit((found.line, found.line))
        newline = LineBuffer("".join(self.raw)).newline  # the one newline policy
        if self.raw and not self.raw[-1].endswith(("\n", "\r")):
            self.raw[-1] += newline
        self.raw.append(line + newline)
        self._read()
        return Edit((len(self.raw), len(self.raw)))

    def remove(self, key: str) -> Edit | None:
        if self.flavor != "requirements":
            raise ValueError(f"{self.path} is written by its tool ({self.flavor})")
        wanted = canonicalize_name(key)
        lines = [p.line for p in self.packages if p.name == wanted and p.line]
        if not lines:
            return None
        for line in sorted(lines, reverse=True):
            del self.raw[line - 1]
        self._read()
        return Edit(None, f"removed {key} from line(s) {', '.join(map(str, lines))}")


def _pin(specifier: SpecifierSet) -> str | None:
    exact = [s.version for s in specifier if s.operator in ("==", "===") and "*" not in s.version]
    return exact[0] if len(exact) == 1 else None


def _requirements(raw: list[str]) -> list[LockedPackage]:
    found: list[LockedPackage] = []
    index = 0
    while index < len(raw):
        first = index
        text = body_of(raw[index])
        while text.endswith("\\") and index + 1 < len(raw):  # a continued line
            index += 1
            text = text[:-1] + " " + body_of(raw[index])
        index += 1
        body = _COMMENT.sub("", text).strip()
        if not body or body.startswith("-") or "://" in body.split(";")[0].split("@")[-1]:
            continue
        body = re.split(r"\s--?[a-z]", " " + body)[0].strip()  # per-line options (--hash ...)
        try:
            requirement = Requirement(body)
        except InvalidRequirement:
            continue  # pip would refuse it; not ours to judge
        if requirement.url:
            continue
        found.append(
            LockedPackage(
                canonicalize_name(requirement.name),
                _pin(requirement.specifier),
                str(requirement.specifier),
                tuple(sorted(requirement.extras)),
                first + 1,
            )
        )
    return found


def _line_index(raw: list[str], pattern: re.Pattern[str]) -> dict[str, int]:
    """Normalized package name -> 1-based line where ``pattern`` (group "name") names it."""
    lines: dict[str, int] = {}
    for number, line in enumerate(raw, start=1):
        match = pattern.search(line)
        if match:
            lines.setdefault(canonicalize_name(match.group("name")), number)
    return lines


_TOML_NAME = re.compile(r'^name\s*=\s*"(?P<name>[^"]+)"')
_JSON_NAME = re.compile(r'^\s{8}"(?P<name>[^"]+)":\s*\{')


def _toml_lock(raw: list[str], path: str, flavor: str) -> list[LockedPackage]:
    text = "".join(raw)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise ParseError(
            f"not a valid {flavor}.lock (TOML): {error}",
            path=path,
            line=int(match.group(1)) if match else None,
        ) from None
    lines = _line_index(raw, _TOML_NAME)
    extras: dict[str, set[str]] = {}
    for package in data.get("package", []):
        if not isinstance(package, dict):
            continue
        for dependency in _dependencies(package):
            name, requested = dependency
            extras.setdefault(name, set()).update(requested)
        if flavor == "pdm" and package.get("extras"):
            name = canonicalize_name(str(package.get("name", "")))
            extras.setdefault(name, set()).update(str(e) for e in package["extras"])
    found = []
    for package in data.get("package", []):
        if not isinstance(package, dict) or "name" not in package:
            continue
        name = canonicalize_name(str(package["name"]))
        version = package.get("version")
        found.append(
            LockedPackage(
                name,
                str(version) if version else None,
                "",
                tuple(sorted(extras.get(name, set()))),
                lines.get(name),
            )
        )
    return found


def _dependencies(package: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(name, extras requested) of a locked package's dependencies (uv's inline tables)."""
    out: list[tuple[str, set[str]]] = []
    for dependency in package.get("dependencies", []) or []:
        if isinstance(dependency, dict) and "name" in dependency:
            wanted = dependency.get("extra", []) or []
            out.append(
                (
                    canonicalize_name(str(dependency["name"])),
                    {str(e) for e in (wanted if isinstance(wanted, list) else [wanted])},
                )
            )
    return out


def _pipfile(raw: list[str], path: str) -> list[LockedPackage]:
    try:
        data = json.loads("".join(raw))
    except ValueError as error:
        line = getattr(error, "lineno", None)
        raise ParseError(
            f"not a valid Pipfile.lock (JSON): {error}", path=path, line=line
        ) from None
    lines = _line_index(raw, _JSON_NAME)
    found = []
    for group in ("default", "develop"):
        packages = data.get(group, {}) if isinstance(data, dict) else {}
        for name, entry in packages.items() if isinstance(packages, dict) else []:
            if not isinstance(entry, dict):
                continue
            specifier = str(entry.get("version", ""))
            try:
                version = _pin(SpecifierSet(specifier)) if specifier else None
            except ValueError:
                version = None
            found.append(
                LockedPackage(
                    canonicalize_name(name),
                    version,
                    specifier,
                    tuple(sorted(entry.get("extras", []) or [])),
                    lines.get(canonicalize_name(name)),
                )
            )
    return found


def parse(data: bytes, path: str) -> PythonLockDocument:
    """Parse a requirements file or a lock file (by its name); ParseError for a lock file that
    is not valid TOML/JSON."""
    return PythonLockDocument(decode(data), path, flavor_of(path))


def body_of(raw_line: str) -> str:
    """A raw line without its ending (``\\r\\n`` or ``\\n``)."""
    return split_lines(raw_line)[0].body if raw_line else ""
