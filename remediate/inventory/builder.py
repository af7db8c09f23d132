"""The inventory while it is being read: groups, hosts and their edges, by Ansible's rules.

Readers (remediate.inventory.sources) call the same operations Ansible's inventory
plugins call: add a group, add a host to a group, set a variable, make a group the
child of another.  ``reconcile()`` then applies what ansible-core does after every
source is read: parentless groups become children of ``all``, hosts in no group go
to ``ungrouped``, hosts in a real group leave it.  Errors are InventoryError
without a path; the reader adds its file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediate.errors import InventoryError
from remediate.inventory.vault import mark_secret


@contextmanager
def located(path: Path | str, line: int | None = None) -> Iterator[None]:
    """Give builder and value errors raised inside the file (and line) they came from."""
    try:
        yield
    except InventoryError as error:
        if error.path is None:
            raise InventoryError(error.message, path=str(path), line=line) from None
        raise
    except ValueError as error:
        raise InventoryError(sentence(str(error)), path=str(path), line=line) from None


def sentence(text: str) -> str:
    """A ValueError's text as one sentence: capital first letter, final period."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@dataclass
class GroupDraft:
    """A group as read so far: its direct hosts and children, its own variables."""

    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    priority: int = 1


@dataclass
class HostDraft:
    """A host as read so far: the variables set on it and the groups it was put in."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


class InventoryBuilder:
    """Mutable groups and hosts, in definition order, always without loops."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupDraft] = {}
        self.hosts: dict[str, HostDraft] = {}
        self.warnings: list[str] = []
        self.secret_values = False  # set while reading a vault-encrypted inventory file
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def add_group(self, name: object) -> str:
        if not isinstance(name, str):
            raise InventoryError(f"Group name {name!r} must be a string.")
        if not name:
            raise InventoryError("A group name must not be empty.")
        self.groups.setdefault(name, GroupDraft(name))
        return name

    def add_host(self, name: object, group: str | None = None, port: int | None = None) -> str:
        """Add a host (its port only counts when the host is new, as in Ansible)."""
        if not isinstance(name, str):
            raise InventoryError(f"Host name {name!r} must be a string.")
        if not name:
            raise InventoryError("A host name must not be empty.")
        if group is not None and group not in self.groups:
            raise InventoryError(f"Group {group!r} is not defined.")
        if name not in self.hosts:
            self.hosts[name] = HostDraft(name)
            if port:
                self.hosts[name].vars["ansible_port"] = int(port)
        if group is not None:
            self._put_host_in_group(name, group)
        return name

    def set_variable(self, entity: str, key: str, value: Any) -> None:
        """Set a variable on a group (preferred, as in Ansible) or else a host."""
        if self.secret_values:
            value = mark_secret(value)
        if entity in self.groups:
            group = self.groups[entity]
            if key == "ansible_group_priority":
                try:
                    group.priority = int(value)
                except (TypeError, ValueError):
                    raise InventoryError(
                        f"ansible_group_priority of group {entity!r} must be an integer, "
                        f"not {value!r}."
                    ) from None
            else:
                group.vars[key] = value
        elif entity in self.hosts:
            self.hosts[entity].vars[key] = value
        else:
            raise InventoryError(f"{entity!r} is neither a known group nor a known host.")

    def add_child(self, parent: str, child: str) -> None:
        """Make ``child`` (a group, or else a host) a member of group ``parent``."""
        if parent not in self.groups:
            raise InventoryError(f"Group {parent!r} is not defined.")
        if child in self.groups:
            self._add_child_group(parent, child)
        elif child in self.hosts:
            self._put_host_in_group(child, parent)
        else:
            raise InventoryError(f"{child!r} is neither a known group nor a known host.")

    def _add_child_group(self, parent: str, child: str) -> None:
        if child == parent:
            raise InventoryError(f"Group {child!r} cannot be a child of itself.")
        if child == "all":
            raise InventoryError(f"Group 'all' cannot be a child of {parent!r}.")
        parent_group, child_group = self.groups[parent], self.groups[child]
        if child in parent_group.children:
            return
        if child in self.ancestors(parent):
            raise InventoryError(
                f"Adding group {child!r} as a child of {parent!r} creates a loop of children."
            )
        parent_group.children.append(child)
        if parent not in child_group.parents:
            child_group.parents.append(parent)

    def _put_host_in_group(self, host: str, group: str) -> None:
        members = self.groups[group].hosts
        if host not in members:
            members.append(host)
            self.hosts[host].groups.append(group)

    def _remove_host_from_group(self, host: str, group: str) -> None:
        if host in self.groups[group].hosts:
            self.groups[group].hosts.remove(host)
            self.hosts[host].groups.remove(group)

    def ancestors(self, group: str) -> set[str]:
        """Every group above ``group`` (not itself)."""
        seen: set[str] = set()
        pending = list(self.groups[group].parents)
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.add(name)
                pending.extend(self.groups[name].parents)
        return seen

    def host_group_closure(self, host: str) -> set[str]:
        """The groups a host is in, directly or through children ('all' included)."""
        closure: set[str] = set()
        for group in self.hosts[host].groups:
            closure.add(group)
            closure |= self.ancestors(group)
        return closure

    def reconcile(self) -> None:
        """What ansible-core does once every source is read."""
        for name, group in list(self.groups.items()):
            if name != "all" and not group.parents:
                self.add_child("all", name)
        for name in self.hosts:
            closure = self.host_group_closure(name)
            if "ungrouped" in closure:
                if closure - {"all", "ungrouped"}:
                    self._remove_host_from_group(name, "ungrouped")
            elif not closure or closure == {"all"}:
                self._put_host_in_group(name, "ungrouped")
        for name in self.groups.keys() & self.hosts.keys():
            self.warnings.append(f"Found both group and host with same name: {name}")

    def depths(self) -> dict[str, int]:
        """Longest path from 'all' to each group: the 'depth' Ansible sorts group vars by."""
        depth: dict[str, int] = {"all": 0}

        def depth_of(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents
                depth[name] = max((depth_of(p) + 1 for p in parents), default=0)
            return depth[name]

        for name in self.groups:
            depth_of(name)
        return depth

    def group_members(self, group: str) -> list[str]:
        """Hosts of a group and its descendants, in the order ansible-core walks them.

        Ansible walks the descendants level by level; within a level it follows a
        set, so where several groups of one level have children its order is
        arbitrary.  Here a level is walked in the order its groups were reached.
        """
        ordered = [group, *self.groups[group].children]
        seen = set(ordered)
        level = list(dict.fromkeys(ordered))
        while level:
            next_level: list[str] = []
            for name in level:
                for child in self.groups[name].children:
                    if child not in seen:
                        ordered.append(child)
                        next_level.append(child)
            seen.update(next_level)
            level = list(dict.fromkeys(next_level))
        members: dict[str, None] = {}
        for name in ordered:
            for host in self.groups[name].hosts:
                members.setdefault(host, None)
        return list(members)
