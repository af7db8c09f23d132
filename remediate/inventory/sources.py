"""Readers for Ansible inventory sources: directories, INI and YAML files, host lists.

Executable scripts and --list JSON are read by remediate.inventory.scripts.  Each
reader feeds an InventoryBuilder the way the matching ansible-core plugin
(ini, yaml, script, host_list) feeds Ansible's inventory, and raises one
InventoryError naming the file and line of the first problem.  Variable values
are parsed as Ansible parses them: INI values with ``ast.literal_eval`` where
that works (``1`` -> 1, ``True`` -> True, ``yes`` stays a string), YAML as YAML
1.1 (``yes`` -> True), ``!unsafe`` kept as UnsafeText, ``!vault`` values and
vault-encrypted files decrypted (remediate.inventory.vault) into SecretText.  Values
are loaded by remediate.inventory.variables.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from remediate.errors import InventoryError
from remediate.inventory.builder import InventoryBuilder, located
from remediate.inventory.patterns import expand_host_entry, parse_address
from remediate.inventory.scripts import looks_like_list_output, read_list_output, read_script
from remediate.inventory.variables import (
    LineMapping,
    decode_json,
    load_yaml,
    plain,
    reveal_vault_values,
)
from remediate.inventory.vault import VaultSecrets, decrypt_text, is_vault_payload

YAML_EXTENSIONS = (".yml", ".yaml", ".json")
# ansible-core skips these names in an inventory directory (hidden files, vars
# directories, REJECT_EXTS + INVENTORY_IGNORE_EXTS).
_IGNORED_IN_DIRECTORY = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$"
    r"|(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.cfg|\.retry)$"
)
_INI_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_INI_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


class SourceReader:
    """Reads inventory sources into one builder."""

    def __init__(
        self,
        builder: InventoryBuilder,
        *,
        script_timeout: float = 60.0,
        vault: VaultSecrets | None = None,
    ) -> None:
        self.builder = builder
        self.script_timeout = script_timeout
        self.vault = vault or VaultSecrets()

    def read(self, source: str | Path) -> None:
        """A directory, a file, or a comma-separated host list such as 'web1,web2:2222,'."""
        text = str(source)
        if "," in text and not os.path.exists(text):
            self._read_host_list(text)
            return
        path = Path(source)
        if not path.exists():
            raise InventoryError("Inventory source does not exist.", path=text)
        if path.is_dir():
            self._read_directory(path)
        else:
            self._read_file(path)

    def _read_host_list(self, text: str) -> None:
        for entry in (part.strip() for part in text.split(",")):
            if entry:
                try:
                    host, port = parse_address(entry)
                except ValueError:
                    host, port = entry, None
                if host not in self.builder.hosts:
                    self.builder.add_host(host, "ungrouped", port)

    def _read_directory(self, directory: Path) -> None:
        for name in sorted(os.listdir(directory)):
            if _IGNORED_IN_DIRECTORY.search(name):
                continue
            path = directory / name
            if path.is_dir():
                self._read_directory(path)
            elif path.is_file():
                self._read_file(path)
            else:
                self.builder.warnings.append(f"Skipping {path}: not a regular file.")

    def _read_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InventoryError(
                f"Cannot read inventory file: {error.strerror}.", path=str(path)
            ) from None
        if os.access(path, os.X_OK) and data.startswith((b"#!", b"\x7fELF")):
            read_script(self.builder, path, timeout=self.script_timeout, vault=self.vault)
            return
        extension = os.path.splitext(path)[1]
        if extension == ".toml":
            raise InventoryError(
                "TOML inventories are not supported; use INI or YAML.", path=str(path)
            )
        encrypted = is_vault_payload(data)
        text = (
            decrypt_text(self.vault, data, what="Inventory file", path=path)
            if encrypted
            else _decode(data, path)
        )
        self.builder.secret_values = encrypted  # variables of a vaulted file are secrets
        try:
            if extension in YAML_EXTENSIONS or not extension:
                self._read_yaml_family(path, text, has_extension=bool(extension))
            else:
                self._read_ini(path, text)
        finally:
            self.builder.secret_values = False

    # --- YAML (and JSON) files --------------------------------------------------

    def _read_yaml_family(self, path: Path, text: str, *, has_extension: bool) -> None:
        """Ansible tries its yaml plugin, then its ini plugin: so does this.

        Content that is no YAML mapping (an INI file without extension, say) is
        read as INI; if that fails too, the error shown is YAML's for a .yml,
        .yaml or .json file and INI's otherwise.
        """
        try:
            data, yaml_error = decode_json(text), None
            if looks_like_list_output(data):
                data = reveal_vault_values(data, self.vault, path)
                with located(path):
                    read_list_output(self.builder, data)
                return
        except ValueError:
            try:
                data, yaml_error = load_yaml(text, path), None
            except InventoryError as error:
                data, yaml_error = None, error
        if yaml_error is None:
            data = reveal_vault_values(data, self.vault, path)
        if yaml_error is None and isinstance(data, Mapping):
            if data:
                self._read_yaml_inventory(data, path)
            return
        if yaml_error is None and data is None:
            return  # empty, or only comments
        if yaml_error is None:
            yaml_error = InventoryError(
                f"YAML inventory must be a mapping of groups, not a {type(data).__name__}.",
                path=str(path),
                line=1,
            )
        try:
            self._read_ini(path, text)
        except InventoryError as ini_error:
            raise (yaml_error if has_extension else ini_error) from None

    def _read_yaml_inventory(self, data: Mapping[Any, Any], path: Path) -> None:
        if data.get("plugin"):
            raise InventoryError(
                f"This is an inventory plugin configuration (plugin: {data['plugin']}), which "
                f"remediate cannot run; export it with 'ansible-inventory -i {path} --list "
                "--output inventory.json' and pass the JSON file instead.",
                path=str(path),
            )
        for name, group_data in data.items():
            self._read_yaml_group(name, group_data, path, _line_of(data, name))

    def _read_yaml_group(self, name: Any, group_data: Any, path: Path, line: int | None) -> Any:
        if not isinstance(group_data, (Mapping, type(None))):
            self.builder.warnings.append(
                f"{path}:{line}: Skipping {name!r}: not a valid group definition."
            )
            return name
        with located(path, line):
            group = self.builder.add_group(name)
        if group_data is None:
            return group
        sections = dict(group_data)
        for section in ("vars", "children", "hosts"):
            if isinstance(sections.get(section), str):
                sections[section] = {sections[section]: None}
            if section in sections and not isinstance(sections[section], (Mapping, type(None))):
                raise InventoryError(
                    f"{section!r} of group {group!r} must be a mapping, not a "
                    f"{type(sections[section]).__name__}.",
                    path=str(path),
                    line=_line_of(group_data, section),
                )
        for key, value in sections.items():
            key_line = _line_of(group_data, key)
            if key not in ("vars", "children", "hosts"):
                self.builder.warnings.append(
                    f"{path}:{key_line}: Skipping unexpected key {key!r} in group {group!r}; "
                    "only 'vars', 'children' and 'hosts' are valid."
                )
            elif value is None:
                continue
            elif key == "vars":
                for var, var_value in value.items():
                    self.builder.set_variable(group, var, plain(var_value))
            elif key == "children":
                for child, child_data in value.items():
                    child_line = _line_of(value, child)
                    child = self._read_yaml_group(child, child_data, path, child_line)
                    with located(path, child_line):
                        self.builder.add_child(group, child)
            else:
                for entry, host_vars in value.items():
                    self._read_yaml_host(group, entry, host_vars, path, _line_of(value, entry))
        return group

    def _read_yaml_host(
        self, group: str, entry: Any, host_vars: Any, path: Path, line: int | None
    ) -> None:
        if not isinstance(entry, str):
            raise InventoryError(
                f"Host pattern {entry!r} must be a string; quote it.", path=str(path), line=line
            )
        with located(path, line):
            names, port = expand_host_entry(entry)
            variables = host_vars or {}
            if not isinstance(variables, Mapping):
                raise InventoryError(
                    f"Variables of host {entry!r} must be a mapping, not a "
                    f"{type(variables).__name__}."
                )
            for name in names:
                self.builder.add_host(name, group, port)
                for var, value in variables.items():
                    self.builder.set_variable(name, var, plain(value))

    # --- INI files ------------------------------------------------------------

    def _read_ini(self, path: Path, text: str) -> None:
        pending: dict[str, dict[str, Any]] = {}
        group, state = "ungrouped", "hosts"
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            with located(path, number):
                section = _INI_SECTION.match(line)
                if section:
                    group, state = section.group(1), section.group(2) or "hosts"
                    self._enter_ini_section(group, state, number, pending)
                elif line.startswith("[") and line.endswith("]"):
                    raise InventoryError(
                        f"Invalid section {line!r}: no spaces or other characters may follow "
                        "the group name except ':vars' or ':children'."
                    )
                elif state == "hosts":
                    self._read_ini_host_line(group, line)
                elif state == "vars":
                    key, separator, value = line.partition("=")
                    if not separator:
                        raise InventoryError(f"Expected key=value, got: {line}.")
                    self.builder.set_variable(group, key.strip(), _ini_value(value.strip()))
                else:
                    child = _INI_GROUP_NAME.match(line)
                    if not child:
                        raise InventoryError(f"Expected a group name, got: {line}.")
                    self._add_ini_child(group, child.group(1), number, pending)
        for name, declaration in pending.items():
            if declaration["state"] == "vars":
                message = f"Section [{name}:vars] is for group {name!r}, which is not defined."
            else:
                message = (
                    f"Section [{declaration['parents'][-1]}:children] includes group "
                    f"{name!r}, which is not defined."
                )
            raise InventoryError(message, path=str(path), line=declaration["line"])

    def _enter_ini_section(
        self, group: str, state: str, number: int, pending: dict[str, dict[str, Any]]
    ) -> None:
        if state not in ("hosts", "children", "vars"):
            raise InventoryError(f"Section [{group}:{state}] has unknown type {state!r}.")
        if group not in self.builder.groups:
            if state == "vars" and group not in pending:
                pending[group] = {"line": number, "state": state}
            self.builder.add_group(group)
        if group in pending and state != "vars":
            if pending[group]["state"] == "children":
                self._resolve_pending_children(group, pending)
            else:
                del pending[group]

    def _add_ini_child(
        self, group: str, child: str, number: int, pending: dict[str, dict[str, Any]]
    ) -> None:
        if child in self.builder.groups:
            self.builder.add_child(group, child)
        elif child in pending:
            pending[child]["parents"].append(group)
        else:
            pending[child] = {"line": number, "state": "children", "parents": [group]}

    def _resolve_pending_children(self, group: str, pending: dict[str, dict[str, Any]]) -> None:
        for parent in pending[group]["parents"]:
            self.builder.add_child(parent, group)
            if parent in pending and pending[parent]["state"] == "children":
                self._resolve_pending_children(parent, pending)
        del pending[group]

    def _read_ini_host_line(self, group: str, line: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as error:
            raise InventoryError(f"Cannot parse host line {line!r}: {error}.") from None
        entry = tokens[0]
        names, port = expand_host_entry(entry)
        if entry.strip().endswith(":") and port is None:
            raise InventoryError(
                f"Invalid host {entry!r}: a trailing ':' must be followed by a port."
            )
        if any(name.strip() == "---" for name in names):
            raise InventoryError("Invalid host '---': this looks like a YAML file.")
        variables: dict[str, Any] = {}
        for token in tokens[1:]:
            key, separator, value = token.partition("=")
            if not separator:
                raise InventoryError(f"Expected key=value host variable assignment, got: {token}.")
            variables[key] = _ini_value(value)
        for name in names:
            self.builder.add_host(name, group, port)
            for key, value in variables.items():
                self.builder.set_variable(name, key, value)


def _ini_value(text: str) -> Any:
    """Ansible's INI value rule: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except (TypeError, MemoryError, RecursionError) as error:
        raise InventoryError(f"Cannot parse value {text!r}: {error}.") from None
    return _ini_plain(value)


def _ini_plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_ini_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _ini_plain(item) for key, item in value.items()}
    if value is Ellipsis or isinstance(value, complex):
        return "..." if value is Ellipsis else str(value)
    if isinstance(value, bytes):
        return value.decode(errors="surrogateescape")
    return value


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text; like Ansible, undecodable bytes are tolerated only in comment lines.

    A NUL byte outside a comment is an error: no host name, group or value holds one."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, line in enumerate(data.split(b"\n"), start=1):
        if b"\0" in line and line.lstrip()[:1] not in (b"#", b";"):
            raise InventoryError("Line holds a NUL byte.", path=str(path), line=number)
    try:
        return data.decode()
    except UnicodeDecodeError:
        pass
    lines = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            lines.append(line.decode())
        except UnicodeDecodeError:
            if line.lstrip()[:1] in (b"#", b";"):
                lines.append("")
            else:
                raise InventoryError(
                    "Line is not valid UTF-8.", path=str(path), line=number
                ) from None
    return "\n".join(lines)


def _line_of(mapping: Any, key: Any) -> int | None:
    return mapping.key_lines.get(key) if isinstance(mapping, LineMapping) else None
