"""Generate remediate/data/celery_settings.json from Celery's own sources, per release series.

For each series (4.4 ... 5.7) this downloads the newest patch release's sdist from PyPI with
pip, reads it without extracting or importing it, and collects:

* every option of ``celery/app/defaults.py`` (``NAMESPACES`` of ``Option(default, type=...,
  old={...})``), evaluated with ``ast`` and with the old upper-case names computed as Celery's
  own ``_to_compat`` does;
* the settings Celery reads with ``conf.get('name')``, ``conf['name']``, ``conf.name`` or a
  bound ``_get = conf.get`` alias, kept only when ``docs/userguide/configuration.rst`` of the
  same sdist documents them as a setting (``.. setting:: name``);
* the daemon settings (``worker_logfile``, ``beat_pidfile``, ...) that ``celery/bin/base.py``
  reads with ``getattr(conf, f"{command}_{option}")`` (5.4+), again only where documented.

Usage:  python scripts/gen_celery_settings.py [--out PATH] [--work-dir DIR]
Needs pip and PyPI.  The analysis functions are pure and tested on snippets.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERIES = ("4.4", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7")
DOCS_PATH = "docs/userguide/configuration.rst"
DEFAULTS_PATH = "celery/app/defaults.py"
DAEMON_BASE_PATH = "celery/bin/base.py"
# Old sdists (setup.py with "pytz>dev") only build their metadata with old build tools.
OLD_BUILD_TOOLS = "setuptools<60\nwheel<0.38\npackaging<22\n"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SettingInfo:
    """One setting as the generated data describes it."""

    default: str | None  # Python source of the default; None when the default is None
    type: str
    old: list[str] = field(default_factory=list)
    source: str = "defaults"  # defaults | conf | cli
    deprecate_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "default": self.default,
            "type": self.type,
            "old": sorted(self.old),
            "source": self.source,
        }
        if self.deprecate_by:
            data["deprecate_by"] = self.deprecate_by
        return data


class _Unevaluable(Exception):
    """An expression of defaults.py that is not a plain value."""


# ---------------------------------------------------------------- defaults.py


def _evaluate(node: ast.expr, constants: Mapping[str, Any]) -> Any:
    """The value of a defaults.py expression made of literals and module constants."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in constants:
            return constants[node.id]
        raise _Unevaluable(node.id)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = [_evaluate(item, constants) for item in node.elts]
        return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise _Unevaluable("dict unpacking")
        return {
            _evaluate(k, constants): _evaluate(v, constants)  # type: ignore[arg-type]
            for k, v in zip(node.keys, node.values)
        }
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "old_ns" and len(node.args) == 1:
            return {f"{_evaluate(node.args[0], constants)}_{{0}}"}
        if isinstance(func, ast.Attribute) and func.attr == "strip" and not node.args:
            value = _evaluate(func.value, constants)
            if isinstance(value, str):
                return value.strip()
    raise _Unevaluable(ast.unparse(node))


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    """Top-level ``NAME = <value>`` assignments of defaults.py that evaluate (the first wins)."""
    constants: dict[str, Any] = {}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            name = statement.targets[0].id
            if name in constants:
                continue
            try:
                constants[name] = _evaluate(statement.value, constants)
            except _Unevaluable:
                continue
    return constants


def _default_source(node: ast.expr | None, constants: Mapping[str, Any]) -> str | None:
    if node is None:
        return None
    try:
        value = _evaluate(node, constants)
    except _Unevaluable:
        return ast.unparse(node)
    if value is None:
        return None
    if isinstance(value, set):
        return "{" + ", ".join(sorted(repr(v) for v in value)) + "}" if value else "set()"
    return repr(value)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _option(call: ast.Call, constants: Mapping[str, Any]) -> SettingInfo:
    """An ``Option(default, type=..., old={...})`` call; ``old`` holds its name patterns."""
    default_node = call.args[0] if call.args else _keyword(call, "default")
    type_node = _keyword(call, "type")
    type_name = (
        "string"
        if type_node is None
        else str(type_node.value)
        if isinstance(type_node, ast.Constant)
        else ast.unparse(type_node)
    )
    old_node, deprecate_node = _keyword(call, "old"), _keyword(call, "deprecate_by")
    return SettingInfo(
        _default_source(default_node, constants),
        type_name,
        sorted(_evaluate(old_node, constants)) if old_node is not None else [],
        "defaults",
        _evaluate(deprecate_node, constants) if deprecate_node is not None else None,
    )


def _namespace(call: ast.Call, constants: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Namespace(__old__=..., key=Option(...) | Namespace(...))`` call as a nested dict."""
    old_node = _keyword(call, "__old__")
    ns_old = set(_evaluate(old_node, constants)) if old_node is not None else set()
    members: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg == "__old__":
            continue
        kind = _call_name(keyword.value)
        if kind == "Option":
            option = _option(keyword.value, constants)  # type: ignore[arg-type]
            if ns_old and not option.old:  # Namespace() fills in the namespace's old pattern
                option.old = sorted(pattern.format(keyword.arg) for pattern in ns_old)
            members[keyword.arg] = option
        elif kind == "Namespace":
            members[keyword.arg] = _namespace(keyword.value, constants)  # type: ignore[arg-type]
        else:
            raise ValueError(f"defaults.py: unexpected value for {keyword.arg!r}")
    members["__old__"] = sorted(ns_old)
    return members


def parse_defaults(source: str) -> tuple[dict[str, SettingInfo], dict[str, dict[str, Any]]]:
    """Settings and namespaces of a celery/app/defaults.py source, without importing it."""
    tree = ast.parse(source)
    constants = _module_constants(tree)
    root: dict[str, Any] | None = None
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == "NAMESPACES"
            and _call_name(statement.value) == "Namespace"
        ):
            root = _namespace(statement.value, constants)  # type: ignore[arg-type]
    if root is None:
        raise ValueError("defaults.py: no NAMESPACES = Namespace(...) assignment")
    settings: dict[str, SettingInfo] = {}
    namespaces: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, members: dict[str, Any]) -> None:
        for key, member in members.items():
            if key == "__old__":
                continue
            if isinstance(member, dict):
                namespaces[prefix + key] = {
                    "old": [p.upper() for p in member["__old__"]],
                    "prefix": prefix + key + "_",
                }
                walk(prefix + key + "_", member)
                continue
            # the old names as celery.app.defaults._to_compat computes them
            member.old = [pattern.format(key).upper() for pattern in member.old] or [
                (prefix + key).upper()
            ]
            settings[prefix + key] = member

    walk("", root)
    return settings, namespaces


# ---------------------------------------------------------------- docs and reads


def documented_settings(rst: str) -> set[str]:
    """Names documented as settings in docs/userguide/configuration.rst."""
    return set(re.findall(r"^\.\. setting:: *([A-Za-z0-9_]+) *$", rst, flags=re.MULTILINE))


def _is_conf(node: ast.expr) -> bool:
    """``conf``, ``_conf``, ``app.conf``, ``self.app.conf``, ``self._conf`` ..."""
    if isinstance(node, ast.Name):
        return node.id in ("conf", "_conf")
    if isinstance(node, ast.Attribute):
        return node.attr in ("conf", "_conf")
    return False


def _literal_source(node: ast.expr | None) -> str | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ast.unparse(node)
    return None if value is None else repr(value)


def conf_reads(tree: ast.Module) -> dict[str, str | None]:
    """Names a module reads from the app configuration -> source of the default it passes."""
    get_aliases = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "get"
        and _is_conf(node.value.value)
    }
    reads: dict[str, str | None] = {}

    def note(name: Any, default: ast.expr | None = None) -> None:
        if isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9_]*", name):
            reads.setdefault(name, _literal_source(default))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            conf_get = (
                isinstance(func, ast.Attribute) and func.attr == "get" and _is_conf(func.value)
            )
            alias_get = isinstance(func, ast.Name) and func.id in get_aliases
            getattr_conf = (
                isinstance(func, ast.Name)
                and func.id == "getattr"
                and len(node.args) >= 2
                and _is_conf(first)
            )
            if (conf_get or alias_get) and isinstance(first, ast.Constant):
                note(first.value, node.args[1] if len(node.args) > 1 else None)
            elif getattr_conf and isinstance(node.args[1], ast.Constant):
                note(node.args[1].value, node.args[2] if len(node.args) > 2 else None)
        elif isinstance(node, ast.Subscript) and _is_conf(node.value):
            if isinstance(node.slice, ast.Constant):
                note(node.slice.value)
        elif isinstance(node, ast.Attribute) and _is_conf(node.value):
            note(node.attr)
    return reads


def daemon_settings(sources: Mapping[str, str]) -> set[str]:
    """``<command>_<option>`` names celery/bin/base.py reads for daemon commands, if it does."""
    base = sources.get(DAEMON_BASE_PATH, "")
    if not re.search(
        r"getattr\(\s*ctx\.obj\.app\.conf,\s*f[\"']\{ctx\.command\.name\}_"
        r"\{self\.name\}",
        base,
    ):
        return set()
    options = set(re.findall(r"DaemonOption\(\s*[\"']--([a-z-]+)[\"']", base))
    commands: set[str] = set()
    for path, text in sources.items():
        if not path.startswith("celery/bin/"):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(deco, ast.Call)
                and isinstance(_keyword(deco, "cls"), ast.Name)
                and _keyword(deco, "cls").id == "CeleryDaemonCommand"  # type: ignore[union-attr]
                for deco in node.decorator_list
            ):
                commands.add(node.name)
    return {f"{command}_{option.replace('-', '_')}" for command in commands for option in options}


def _infer_type(default: str | None) -> str:
    if default is None:
        return "any"
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError):
        return "any"
    names = {
        bool: "bool",
        int: "int",
        float: "float",
        str: "string",
        dict: "dict",
        list: "list",
        tuple: "tuple",
    }
    return names.get(type(value), "any")


def analyse_release(sources: Mapping[str, str]) -> dict[str, Any]:
    """The per-version data block from an sdist's files (path inside the package -> text)."""
    settings, namespaces = parse_defaults(sources[DEFAULTS_PATH])
    if DOCS_PATH not in sources:
        raise ValueError(f"the sdist has no {DOCS_PATH}")
    documented = documented_settings(sources[DOCS_PATH])
    reads: dict[str, str | None] = {}
    for path in sorted(sources):
        if path.startswith("celery/") and path.endswith(".py"):
            for name, default in conf_reads(ast.parse(sources[path])).items():
                reads.setdefault(name, default)
    for name in sorted((documented & set(reads)) - set(settings)):
        settings[name] = SettingInfo(reads[name], _infer_type(reads[name]), [], "conf")
    for name in sorted((documented & daemon_settings(sources)) - set(settings)):
        settings[name] = SettingInfo(None, "string", [], "cli")
    return {
        "namespaces": {name: namespaces[name] for name in sorted(namespaces)},
        "settings": {name: settings[name].as_json() for name in sorted(settings)},
    }


# ---------------------------------------------------------------- download


def _pip_download(series: str, dest: Path) -> Path:
    major, minor = series.split(".")
    spec = f"celery>={series},<{major}.{int(minor) + 1}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        "celery",
        "--dest",
        str(dest),
        spec,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        constraints = dest / "old-build-tools.txt"
        constraints.write_text(OLD_BUILD_TOOLS)
        env = dict(os.environ, PIP_CONSTRAINT=str(constraints))
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not download {spec}:\n{result.stdout}{result.stderr}")
    saved = re.findall(
        r"(?:Saved|File was already downloaded) (\S+celery-[^\s/]+\.tar\.gz)", result.stdout
    )
    if not saved:
        raise RuntimeError(f"pip downloaded no celery sdist for {spec}:\n{result.stdout}")
    return Path(saved[-1])


def read_sdist(archive: Path) -> tuple[str, dict[str, str]]:
    """(release, {path inside the package: text}) of the .py files and the configuration docs."""
    release = re.sub(r"^celery-|\.tar\.gz$", "", archive.name)
    files: dict[str, str] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else ""
            wanted = (inner.startswith("celery/") and inner.endswith(".py")) or inner == DOCS_PATH
            if member.isfile() and wanted:
                handle = tar.extractfile(member)
                if handle is not None:
                    files[inner] = handle.read().decode("utf-8")
    return release, files


def generate(series: Iterable[str], work_dir: Path) -> dict[str, Any]:
    versions: dict[str, Any] = {}
    for name in series:
        archive = _pip_download(name, work_dir)
        release, files = read_sdist(archive)
        block = analyse_release(files)
        versions[name] = {"release": release, **block}
        print(f"celery {release}: {len(block['settings'])} settings", file=sys.stderr)
    return {
        "about": "Celery setting names per release series, generated by "
        "scripts/gen_celery_settings.py from each sdist's celery/app/defaults.py, "
        "documented conf reads and daemon options. Do not edit by hand.",
        "schema": 1,
        "versions": versions,
    }


def render_json(data: Mapping[str, Any]) -> str:
    """Sorted, stable JSON with one line per setting and per namespace (small, readable diffs)."""

    def block(mapping: Mapping[str, Any], indent: str) -> str:
        rows = [
            f"{indent}  {json.dumps(key)}: {json.dumps(mapping[key], sort_keys=True)}"
            for key in sorted(mapping)
        ]
        return "{\n" + ",\n".join(rows) + f"\n{indent}}}"

    versions = []
    for name in sorted(data["versions"], key=lambda v: tuple(int(p) for p in v.split("."))):
        version = data["versions"][name]
        versions.append(
            f"  {json.dumps(name)}: {{\n"
            f'   "namespaces": {block(version["namespaces"], "   ")},\n'
            f'   "release": {json.dumps(version["release"])},\n'
            f'   "settings": {block(version["settings"], "   ")}\n  }}'
        )
    head = ",\n".join(
        f" {json.dumps(key)}: {json.dumps(data[key])}" for key in sorted(data) if key != "versions"
    )
    return "{\n" + head + ',\n "versions": {\n' + ",\n".join(versions) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "remediate/data/celery_settings.json")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where to keep the downloaded sdists (default: a temporary dir)",
    )
    parser.add_argument("--series", nargs="*", default=list(SERIES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        work_dir = args.work_dir or Path(temporary)
        work_dir.mkdir(parents=True, exist_ok=True)
        data = generate(args.series, work_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_json(data))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
