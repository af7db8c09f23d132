"""Inventory variable values: YAML and JSON as Ansible loads them, and vars files.

``group_vars/`` and ``host_vars/`` beside an inventory source are read as Ansible's
host_group_vars plugin reads them: for an entity NAME the first of ``NAME`` (a
directory of vars files, read in sorted order, recursively; or a file),
``NAME.yml``, ``NAME.yaml``, ``NAME.json`` is used; hidden and ``~`` files are
skipped; empty files count as nothing.  Files are JSON or YAML 1.1, either possibly
encrypted whole with ansible-vault or holding inline ``!vault`` values.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from remediate.errors import InventoryError
from remediate.inventory.vault import VaultSecrets, decrypt_text, is_vault_payload, mark_secret
from remediate.model.secrets import secret_text

VARS_FILE_EXTENSIONS = (".yml", ".yaml", ".json")


class UnsafeText(str):
    """A string tagged ``!unsafe``: Ansible never templates it."""


@dataclass(frozen=True)
class VaultValue:
    """An ansible-vault encrypted value, as loaded (reveal_vault_values decrypts it)."""

    ciphertext: str
    line: int | None = field(default=None, compare=False)  # of a YAML !vault tag


class LineMapping(dict[Any, Any]):
    """A YAML mapping that remembers the 1-based line of each key (for error messages)."""

    key_lines: dict[Any, int]

    def __init__(self) -> None:
        super().__init__()
        self.key_lines = {}


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: The most nodes a YAML document may stand for once its aliases are expanded: a "billion
#: laughs" document (aliases of aliases) is tiny on disk and unbounded in memory and time.
MAX_YAML_NODES = 1_000_000


class _InventoryYamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """YAML 1.1 like Ansible's loader, plus key lines; knows !unsafe and !vault."""

    def construct_document(self, node: Any) -> Any:
        expanded = _expanded_size(node, {})
        if expanded > MAX_YAML_NODES:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"its aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)",
                node.start_mark,
            )
        return super().construct_document(node)


def _expanded_size(node: Any, seen: dict[int, int]) -> int:
    """How many nodes ``node`` stands for with every alias expanded (memoised: linear time)."""
    if id(node) in seen:
        return seen[id(node)]
    seen[id(node)] = 1  # a recursive alias counts once (PyYAML builds it as a cycle)
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, seen)
        if total > MAX_YAML_NODES:
            break
    seen[id(node)] = total
    return total


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> Any:
    mapping = LineMapping()
    yield mapping
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found a mapping key that is not a scalar", key_node.start_mark
            ) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1


def _construct_unsafe(loader: Any, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return UnsafeText(loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return mark_unsafe(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    construction = _construct_mapping(loader, node)
    mapping = next(construction)
    for _ in construction:
        pass
    return mark_unsafe(plain(mapping))


def mark_unsafe(value: Any) -> Any:
    """The same value with every string in it an UnsafeText."""
    if isinstance(value, str):
        return UnsafeText(value)
    if isinstance(value, list):
        return [mark_unsafe(item) for item in value]
    if isinstance(value, dict):
        return {key: mark_unsafe(item) for key, item in value.items()}
    return value


def _construct_vault(loader: Any, node: yaml.Node) -> VaultValue:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, "a !vault value must be a string", node.start_mark
        )
    return VaultValue(loader.construct_scalar(node), node.start_mark.line + 1)


_InventoryYamlLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_InventoryYamlLoader.add_constructor("!unsafe", _construct_unsafe)
_InventoryYamlLoader.add_constructor("!vault", _construct_vault)
_InventoryYamlLoader.add_constructor("!vault-encrypted", _construct_vault)


def load_yaml(text: str, path: Path | str) -> Any:
    """Parse YAML; a syntax error becomes an InventoryError at the line YAML points to."""
    try:
        return yaml.load(text, Loader=_InventoryYamlLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part)
        last_line = max(1, len(text.splitlines()))  # an error at the end points past it
        raise InventoryError(
            f"Invalid YAML: {problem}.",
            path=str(path),
            line=min(mark.line + 1, last_line) if mark else None,
        ) from None
    except yaml.YAMLError as error:
        raise InventoryError(f"Invalid YAML: {error}.", path=str(path)) from None


def _json_markers(pairs: list[tuple[str, Any]]) -> Any:
    """Ansible's legacy JSON markers for unsafe and vaulted values."""
    if len(pairs) == 1:
        key, value = pairs[0]
        if key == "__ansible_unsafe" and isinstance(value, str):
            return UnsafeText(value)
        if key == "__ansible_vault" and isinstance(value, str):
            return VaultValue(value)
    return dict(pairs)


def decode_json(text: str) -> Any:
    """Parse JSON (raises ValueError), decoding Ansible's __ansible_unsafe/__ansible_vault."""
    return json.loads(text, object_pairs_hook=_json_markers)


def plain(value: Any) -> Any:
    """The same value with LineMappings turned into plain dicts."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def load_vars_file(path: Path, vault: VaultSecrets | None = None) -> dict[str, Any]:
    """One group_vars/host_vars file: a mapping, or {} when empty.

    A vault-encrypted file is decrypted with ``vault`` and every string in it is a
    SecretText; so is every inline ``!vault`` value.  No password: an InventoryError.
    """
    vault = vault or VaultSecrets()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InventoryError(f"Cannot read vars file: {error}.", path=str(path)) from None
    encrypted = is_vault_payload(text)
    if encrypted:
        text = decrypt_text(vault, text, what="Vars file", path=path)
    try:
        data = decode_json(text)
    except ValueError:
        data = load_yaml(text, path)
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise InventoryError(
            f"Vars file must hold a mapping, not a {type(data).__name__}.", path=str(path), line=1
        )
    data = plain(reveal_vault_values(data, vault, path))
    return mark_secret(data) if encrypted else data  # type: ignore[no-any-return]


def reveal_vault_values(value: Any, vault: VaultSecrets, path: Path | str) -> Any:
    """``value`` with every inline vault value (``!vault``, ``__ansible_vault``) decrypted.

    Each becomes a SecretText.  Without a password that decrypts it: one InventoryError
    naming the file and the value's line, so ciphertext never passes for a value.
    """
    if isinstance(value, VaultValue):
        what = "This !vault value" if value.line else "This __ansible_vault value"
        return secret_text(
            decrypt_text(vault, value.ciphertext, what=what, path=path, line=value.line)
        )
    if isinstance(value, LineMapping):
        revealed = LineMapping()
        revealed.key_lines.update(value.key_lines)
        revealed.update(
            (key, reveal_vault_values(item, vault, path)) for key, item in value.items()
        )
        return revealed
    if isinstance(value, Mapping):
        return {key: reveal_vault_values(item, vault, path) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal_vault_values(item, vault, path) for item in value]
    return value


class VarsFiles:
    """group_vars/ and host_vars/ of inventory directories, each file read once."""

    def __init__(self, vault: VaultSecrets | None = None) -> None:
        self.vault = vault or VaultSecrets()
        self._loaded: dict[Path, dict[str, Any]] = {}
        self._merged: dict[tuple[Path, str, str], dict[str, Any]] = {}
        self._directories: dict[tuple[Path, str], Path | None] = {}

    def group_vars(self, base: Path, group: str) -> dict[str, Any]:
        return self._vars_of(base, "group_vars", group)

    def host_vars(self, base: Path, host: str) -> dict[str, Any]:
        return self._vars_of(base, "host_vars", host)

    def _vars_of(self, base: Path, kind: str, name: str) -> dict[str, Any]:
        key = (base, kind, name)
        if key not in self._merged:
            merged: dict[str, Any] = {}
            if (base, kind) not in self._directories:
                candidate = base / kind
                self._directories[base, kind] = candidate if candidate.is_dir() else None
            directory = self._directories[base, kind]
            if directory is not None and not name.startswith(os.sep):
                for path in find_vars_files(directory, name):
                    if path not in self._loaded:
                        self._loaded[path] = load_vars_file(path, self.vault)
                    merged |= self._loaded[path]
            self._merged[key] = merged
        return self._merged[key]


def find_vars_files(directory: Path, name: str) -> list[Path]:
    """The files that hold NAME's variables in a group_vars/ or host_vars/ directory."""
    for extension in ("", *VARS_FILE_EXTENSIONS):
        candidate = directory / (name + extension)
        if candidate.is_dir():
            return _files_in(candidate)
        if candidate.exists():
            return [candidate]
    return []


def _files_in(directory: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        path, extension = directory / entry, os.path.splitext(entry)[1]
        if path.is_dir() and not extension:
            found.extend(_files_in(path))
        elif path.is_file() and (not extension or extension in VARS_FILE_EXTENSIONS):
            found.append(path)
    return found


def to_json_value(value: Any, *, unsafe_markers: bool = True) -> Any:
    """A variable value as ansible-inventory prints it in JSON.

    ``--list`` marks !unsafe strings as {"__ansible_unsafe": ...}; ``--host``
    prints them as plain strings (unsafe_markers=False).
    """
    if isinstance(value, UnsafeText):
        return {"__ansible_unsafe": str(value)} if unsafe_markers else str(value)
    if isinstance(value, VaultValue):
        return {"__ansible_vault": value.ciphertext}
    if isinstance(value, Mapping):
        return {
            _json_key(key): to_json_value(item, unsafe_markers=unsafe_markers)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(item, unsafe_markers=unsafe_markers) for item in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    return json.dumps(key) if isinstance(key, (bool, int, float)) or key is None else str(key)
