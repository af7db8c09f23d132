"""Ansible-compatible inventory: hosts, groups and their variables, as ansible-core sees them.

    inv = load_inventory(["inventory/"])
    inv.select("redis:&prod")          # --limit: Ansible host patterns
    inv.to_list_json()                  # what `ansible-inventory --list` prints
    inv.graph()                         # what `ansible-inventory --graph` prints
    inv.host_vars("redis-01")           # what `ansible-inventory --host redis-01` prints

Sources are INI or YAML files, directories of them, executable inventory scripts
and ``ansible-inventory --list`` JSON exports; ``group_vars/`` and ``host_vars/``
beside a source are read too.  A host's variables are merged with Ansible's
precedence, lowest first: ``all`` from inventory files; other groups from
inventory files (by depth, then ansible_group_priority, then name);
``group_vars/all``; ``group_vars/<group>`` (same order); the host's own
inventory variables; ``host_vars/<host>``.  Nothing is templated: a value that
is a Jinja expression stays the text it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from remediate.errors import InventoryError, UsageError
from remediate.inventory.builder import InventoryBuilder
from remediate.inventory.patterns import LOCALHOST_NAMES, select_host_names, split_host_pattern
from remediate.inventory.sources import SourceReader
from remediate.inventory.variables import VarsFiles, VaultValue, to_json_value
from remediate.inventory.vault import VaultSecrets

# Magic variables ansible-inventory never prints (ansible.constants.INTERNAL_STATIC_VARS).
INTERNAL_VARS = frozenset(
    {
        "ansible_async_path",
        "ansible_collection_name",
        "ansible_config_file",
        "ansible_dependent_role_names",
        "ansible_diff_mode",
        "ansible_facts",
        "ansible_forks",
        "ansible_inventory_sources",
        "ansible_limit",
        "ansible_play_batch",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_role_names",
        "ansible_playbook_python",
        "ansible_role_name",
        "ansible_role_names",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_verbosity",
        "ansible_version",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "groups",
        "group_names",
        "hostvars",
        "playbook_dir",
        "play_hosts",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
    }
)
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t", "1.0"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f", "0.0", ""})
_SSH_CONNECTIONS = frozenset({"ssh", "paramiko", "paramiko_ssh", "smart"})
#: Ansible's container connection plugins (and their short names) -> the runtime's CLI;
#: ``redis``: a broker reached over the Redis protocol only (no shell)
_OTHER_CONNECTIONS = {
    "community.docker.docker": "docker",
    "community.general.docker": "docker",
    "docker": "docker",
    "containers.podman.podman": "podman",
    "podman": "podman",
    "kubernetes.core.kubectl": "kubectl",
    "community.kubernetes.kubectl": "kubectl",
    "kubectl": "kubectl",
    "redis": "redis",
}


@dataclass(frozen=True)
class Host:
    """One host: its merged variables and every group it belongs to (sorted, without 'all')."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    implicit: bool = False  # Ansible's implicit localhost: not in the inventory, runs local

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def address(self) -> str:
        """Where to connect: ansible_host (or the older ansible_ssh_host), else the name."""
        return self._text("ansible_host") or self._text("ansible_ssh_host") or self.name

    @property
    def port(self) -> int | None:
        value = self.vars.get("ansible_port", self.vars.get("ansible_ssh_port"))
        if value is None:
            return None
        text = self._text("ansible_port" if "ansible_port" in self.vars else "ansible_ssh_port")
        if isinstance(value, bool) or not text or not text.isdigit() or not 0 < int(text) < 65536:
            raise InventoryError(f"ansible_port {value!r} is not a TCP port.", host=self.name)
        return int(text)

    @property
    def user(self) -> str | None:
        return self._text("ansible_user") or self._text("ansible_ssh_user")

    @property
    def key_file(self) -> str | None:
        return self._text("ansible_ssh_private_key_file") or self._text("ansible_private_key_file")

    @property
    def connection(self) -> str:
        """'ssh' (also for paramiko and smart), 'local', 'docker', 'podman', 'kubectl' or 'redis'."""
        value = self._text("ansible_connection") or "ssh"
        if value == "local":
            return "local"
        if value in _SSH_CONNECTIONS:
            return "ssh"
        if value in _OTHER_CONNECTIONS:
            return _OTHER_CONNECTIONS[value]
        raise InventoryError(
            f"ansible_connection {value!r} is not supported; use ssh, local, docker, podman, "
            "kubectl or redis.",
            host=self.name,
        )

    @property
    def become(self) -> bool:
        """ansible_become as Ansible reads a boolean: yes/true/on/1 or no/false/off/0."""
        value = self.vars.get("ansible_become", False)
        if value is None or isinstance(value, (bool, int, float)):
            return bool(value)
        text = self._text("ansible_become") or ""
        if text.strip().lower() in _TRUE | _FALSE:
            return text.strip().lower() in _TRUE
        raise InventoryError(f"ansible_become {value!r} is not a boolean.", host=self.name)

    @property
    def become_user(self) -> str:
        return self._text("ansible_become_user") or "root"

    @property
    def become_method(self) -> str:
        return self._text("ansible_become_method") or "sudo"

    @property
    def become_password(self) -> str | None:
        """ansible_become_password (or its older names): sent to sudo on stdin only."""
        return (
            self._text("ansible_become_password")
            or self._text("ansible_become_pass")
            or self._text("ansible_sudo_pass")
        )

    def setting(self, key: str) -> str | None:
        """A connection variable as text (an undecrypted vault value or a template: error)."""
        return self._text(key)

    @property
    def root(self) -> str:
        """remediate_root: prefix of every managed path; a relative one is relative to the cwd."""
        return self._text("remediate_root") or "/"

    def _text(self, key: str) -> str | None:
        value = self.vars.get(key)
        if value is None:
            return None
        if isinstance(value, VaultValue):
            raise InventoryError(
                f"{key} is vault-encrypted and was not decrypted; load the "
                "inventory with its vault password.",
                host=self.name,
            )
        text = str(value)
        if "{{" in text or "{%" in text:
            raise InventoryError(
                f"{key} is a Jinja template ({text!r}); remediate does not "
                "template inventory variables.",
                host=self.name,
            )
        return text


@dataclass(frozen=True)
class Group:
    """One group: its direct hosts and child groups, and its own variables (files included)."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    priority: int = 1


@dataclass(frozen=True)
class Inventory:
    """Hosts in Ansible's definition order, groups, and the host selection rules."""

    hosts: dict[str, Host]
    groups: dict[str, Group]
    sources: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Hosts of each group and its descendants, in Ansible's order ('all' = play order).
    members: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # The implicit localhost Ansible makes up for 'localhost', '127.0.0.1' or '::1'.
    implicit_hosts: dict[str, Host] = field(default_factory=dict, repr=False)

    def select(self, pattern: str | None = None, *, within: str = "all") -> list[Host]:
        """Hosts matching ``within`` (a play's hosts:) restricted by the --limit ``pattern``.

        ``None`` selects every host.  ``@FILE`` in the pattern reads one pattern per
        line from FILE, as Ansible does.  Nothing matched -> [] (the caller says so).
        """
        limit = None if pattern is None else self._limit_patterns(pattern)
        names = select_host_names(self, split_host_pattern(within), limit)
        return [
            self.hosts[name] if name in self.hosts else self.implicit_hosts[name] for name in names
        ]

    def _limit_patterns(self, pattern: str) -> list[str]:
        patterns: list[str] = []
        for part in split_host_pattern(pattern):
            if not part.startswith("@"):
                patterns.append(part)
                continue
            try:
                text = Path(part[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise UsageError(f"Cannot read limit file {part[1:]}: {error}.") from None
            patterns.extend(line.strip() for line in text.split("\n"))
        return patterns

    def restrict(self, hosts: Iterable[Host | str]) -> Inventory:
        """The same inventory with only these hosts (as ansible-inventory --list --limit)."""
        keep = {host if isinstance(host, str) else host.name for host in hosts}
        return replace(
            self,
            hosts={name: host for name, host in self.hosts.items() if name in keep},
            groups={
                name: replace(group, hosts=tuple(h for h in group.hosts if h in keep))
                for name, group in self.groups.items()
            },
            members={
                name: tuple(h for h in names if h in keep) for name, names in self.members.items()
            },
        )

    def host_vars(self, name: str) -> dict[str, Any]:
        """A host's merged variables as ``ansible-inventory --host NAME`` prints them.

        JSON-ready: dates as ISO text, vaulted values as {"__ansible_vault": ...}.
        Host.vars keeps the loaded Python values.
        """
        if name in self.hosts:
            host = self.hosts[name]
        elif name in LOCALHOST_NAMES:
            found = self.localhost_for(name)
            host = self.hosts.get(found) or self.implicit_hosts[found]
        else:
            raise UsageError(f"No host named {name!r} in the inventory.")
        return to_json_value(host.vars, unsafe_markers=False)  # type: ignore[no-any-return]

    def to_list_json(self) -> dict[str, Any]:
        """The structure ``ansible-inventory --list`` prints (dump with sort_keys=True)."""
        available = set(self.members.get("all", ()))
        result: dict[str, Any] = {}
        formatted: set[str] = set()

        def format_group(name: str) -> None:
            group, entry = self.groups[name], {}
            if name != "all":
                hosts = [host for host in group.hosts if host in available]
                if hosts:
                    entry["hosts"] = hosts
            for child in group.children:
                if child not in formatted:
                    format_group(child)
                    formatted.add(child)
            if group.children:
                entry["children"] = list(group.children)
            if entry:
                result[name] = entry

        format_group("all")
        result["_meta"] = {
            "hostvars": {
                name: to_json_value(self.hosts[name].vars)
                for name in self.members.get("all", ())
                if self.hosts[name].vars
            },
            "profile": "inventory_legacy",
        }
        return result

    def graph(self, group: str = "all") -> str:
        """The tree ``ansible-inventory --graph [GROUP]`` prints (no final newline)."""
        if group not in self.groups:
            raise UsageError(f"{group!r} is not a group; --graph takes a group name.")
        lines: list[str] = []

        def walk(name: str, depth: int) -> None:
            lines.append(_graph_line(f"@{name}:", depth))
            for child in self.groups[name].children:
                walk(child, depth + 1)
            if name != "all":
                lines.extend(_graph_line(host, depth + 1) for host in self.groups[name].hosts)

        walk(group, 0)
        return "\n".join(lines)

    # remediate.inventory.patterns.HostUniverse
    @property
    def group_names(self) -> Sequence[str]:
        return tuple(self.groups)

    @property
    def host_names(self) -> Sequence[str]:
        return tuple(self.hosts)

    def group_members(self, group: str) -> Sequence[str]:
        return self.members.get(group, ())

    def localhost_for(self, name: str) -> str:
        """The first localhost-like host of the inventory, else the implicit one."""
        return next((host for host in self.hosts if host in LOCALHOST_NAMES), name)


def _graph_line(text: str, depth: int) -> str:
    return "  |" * depth + "--" + text if depth else text


def load_inventory(
    paths: Sequence[str | Path] | str | Path,
    *,
    script_timeout: float = 60.0,
    vault: VaultSecrets | None = None,
) -> Inventory:
    """Read one or more inventory sources (like repeated ``-i``), in order, into one inventory.

    A source is a file, a directory, an executable script or a host list such as
    'web1,web2:2222,'.  Vault-encrypted files and ``!vault`` values are decrypted with
    ``vault`` (remediate.inventory.vault_passwords builds it); their values are
    SecretText.  Raises one InventoryError naming the file and line.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    vault = vault or VaultSecrets()
    builder = InventoryBuilder()
    reader = SourceReader(builder, script_timeout=script_timeout, vault=vault)
    vars_dirs: list[Path] = []
    for source in paths:
        reader.read(source)
        path = Path(source)
        if path.exists():
            vars_dirs.append(path if path.is_dir() else path.parent)
    builder.reconcile()
    return _assemble(builder, vars_dirs, tuple(str(source) for source in paths), vault)


def _assemble(
    builder: InventoryBuilder, vars_dirs: list[Path], sources: tuple[str, ...], vault: VaultSecrets
) -> Inventory:
    """Freeze the builder, merging every host's variables by Ansible's precedence."""
    files = VarsFiles(vault)
    depth = builder.depths()

    def group_rank(name: str) -> tuple[int, int, str]:
        return depth[name], builder.groups[name].priority, name

    groups: dict[str, Group] = {}
    for name, draft in builder.groups.items():
        own = dict(draft.vars)
        for directory in vars_dirs:
            own |= files.group_vars(directory, name)
        groups[name] = Group(
            name, tuple(draft.hosts), tuple(draft.children), _public(own), draft.priority
        )

    all_vars = dict(builder.groups["all"].vars)
    for directory in vars_dirs:
        all_vars |= files.group_vars(directory, "all")

    hosts: dict[str, Host] = {}
    for name, host in builder.hosts.items():
        closure = builder.host_group_closure(name) - {"all"}
        ranked = sorted(closure, key=group_rank)
        merged = dict(builder.groups["all"].vars)
        for group in ranked:
            merged |= builder.groups[group].vars
        for directory in vars_dirs:
            merged |= files.group_vars(directory, "all")
        for directory in vars_dirs:
            for group in ranked:
                merged |= files.group_vars(directory, group)
        merged |= host.vars
        for directory in vars_dirs:
            merged |= files.host_vars(directory, name)
        hosts[name] = Host(name, _public(merged), tuple(sorted(closure)))

    implicit_hosts: dict[str, Host] = {}
    for name in LOCALHOST_NAMES:
        merged = all_vars | {
            "ansible_python_interpreter": sys.executable,
            "ansible_connection": "local",
        }
        for directory in vars_dirs:
            merged |= files.host_vars(directory, name)
        implicit_hosts[name] = Host(name, _public(merged), (), implicit=True)

    members = {name: tuple(builder.group_members(name)) for name in builder.groups}
    return Inventory(hosts, groups, sources, tuple(builder.warnings), members, implicit_hosts)


def _public(variables: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in variables.items() if key not in INTERNAL_VARS}
