"""Which rules ``lint`` reports: ``--select``/``--ignore`` and the same keys in a config file.

The config file is the first of ``remediate.toml`` (table ``[lint]``) or ``pyproject.toml``
(table ``[tool.remediate.lint]``) found in the working directory or a parent, as ruff finds
its own. A rule is named by its id (``CEL004``) or a prefix of ids (``CEL``, ``RDS00``).
``--select`` replaces the file's ``select``; ``--ignore`` adds to the file's ``ignore``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.errors import ParseError, UsageError

CONFIG_FILES = ("remediate.toml", "pyproject.toml")


@dataclass(frozen=True)
class RuleFilter:
    """Rule ids or prefixes to keep (empty: every rule) and to drop; ``source`` says where
    they were read from (for messages)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    source: str = ""  # the config file they came from; "" for the command line

    def keeps(self, rule: str) -> bool:
        if self.select and not any(rule.startswith(p) for p in self.select):
            return False
        return not any(rule.startswith(p) for p in self.ignore)

    def check(self, known: Iterable[str]) -> None:
        """Every selector names at least one known rule (a typo selects nothing silently)."""
        ids = list(known)
        for option, selectors in (("select", self.select), ("ignore", self.ignore)):
            for prefix in selectors:
                if not any(rule.startswith(prefix) for rule in ids):
                    where = f"{self.source}: {option}" if self.source else f"--{option}"
                    raise UsageError(f"{where} {prefix!r}: no rule id starts with it")


def split_ids(values: Sequence[str] | None) -> tuple[str, ...]:
    """``["CEL004,RDS", "X004"]`` -> ``("CEL004", "RDS", "X004")``, upper-cased."""
    out: list[str] = []
    for value in values or ():
        out += [part.strip().upper() for part in value.split(",") if part.strip()]
    return tuple(out)


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first config file with lint settings from ``start`` upwards, and its lint table."""
    for directory in (start, *start.parents):
        for name in CONFIG_FILES:
            path = directory / name
            if not path.is_file():
                continue
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise ParseError(f"cannot read: {exc}", path=str(path)) from None
            except tomllib.TOMLDecodeError as exc:
                raise ParseError(f"not TOML: {exc}", path=str(path)) from None
            table = data.get("lint") if name == "remediate.toml" else _tool_lint(data)
            if name == "remediate.toml" or table is not None:
                return path, _checked(table or {}, path)
    return None


def _tool_lint(data: dict[str, Any]) -> Any:
    tool = data.get("tool", {}).get("remediate")
    return None if tool is None else tool.get("lint", {})


def _checked(table: Any, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ParseError("the lint settings must be a table", path=str(path))
    for key, value in table.items():
        if key not in ("select", "ignore"):
            raise ParseError(f"unknown lint setting {key!r} (select, ignore)", path=str(path))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ParseError(f"{key} must be a list of rule ids", path=str(path))
    return table


def rule_filter(
    select: Sequence[str] | None,
    ignore: Sequence[str] | None,
    cwd: Path,
    known: Iterable[str] = (),
) -> RuleFilter:
    """The options over the config file found from ``cwd``; with ``known`` rule ids, a
    selector that names none of them is an error naming where it came from."""
    known = list(known)
    found = find_config(cwd)
    file_select: tuple[str, ...] = ()
    file_ignore: tuple[str, ...] = ()
    source = ""
    if found is not None:
        path, table = found
        source = str(path)
        file_select = split_ids(table.get("select"))
        file_ignore = split_ids(table.get("ignore"))
    cli_select, cli_ignore = split_ids(select), split_ids(ignore)
    if known:
        RuleFilter(file_select, file_ignore, source).check(known)
        RuleFilter(cli_select, cli_ignore).check(known)
    return RuleFilter(cli_select or file_select, file_ignore + cli_ignore, source)


def repository_root(start: Path) -> Path | None:
    """The git top level above ``start`` (the directory holding ``.git``, a directory or a
    worktree's file), or None outside a repository."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None
