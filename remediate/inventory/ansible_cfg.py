"""ansible.cfg, found and read the way Ansible finds it, and remediate's own ``[remediate]``.

Search order (the first file found is the only one read, as in Ansible):
``$ANSIBLE_CONFIG`` (a file, or a directory holding ansible.cfg), ``./ansible.cfg`` (not
when the current directory is world-writable, as Ansible refuses it), ``~/.ansible.cfg``,
``/etc/ansible/ansible.cfg``.

Read from it, each overridden by its ``ANSIBLE_*`` environment variable, and both
overridden by command-line flags (the CLI decides that):

    [defaults]            inventory (ANSIBLE_INVENTORY), remote_user (ANSIBLE_REMOTE_USER),
                          private_key_file (ANSIBLE_PRIVATE_KEY_FILE), forks (ANSIBLE_FORKS),
                          timeout (ANSIBLE_TIMEOUT), host_key_checking (ANSIBLE_HOST_KEY_CHECKING),
                          vault_password_file (ANSIBLE_VAULT_PASSWORD_FILE)
    [privilege_escalation] become, become_user, become_method, become_ask_pass (ANSIBLE_BECOME...)
    [ssh_connection]      ssh_args (ANSIBLE_SSH_ARGS)
    [remediate]           playbook, templates: remediate's own settings live here, nowhere else

Relative paths in the file are relative to the file's directory (as Ansible resolves path
settings); in environment variables, relative to the current directory.
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from remediate.errors import ParseError

_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})
#: remediate's own settings in the [remediate] section
REMEDIATE_KEYS = ("playbook", "templates")


@dataclass(frozen=True)
class AnsibleConfig:
    """The settings remediate reads from ansible.cfg and ANSIBLE_* (None: not set)."""

    path: str | None = None
    inventory: tuple[Path, ...] = ()
    remote_user: str | None = None
    private_key_file: str | None = None
    forks: int | None = None
    timeout: float | None = None
    host_key_checking: bool | None = None
    vault_password_file: str | None = None
    ssh_args: str | None = None
    become: bool | None = None
    become_user: str | None = None
    become_method: str | None = None
    become_ask_pass: bool | None = None
    remediate: Mapping[str, Path] = field(default_factory=dict)  # [remediate] playbook, templates


def find_config(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None, home: Path | None = None
) -> Path | None:
    """The ansible.cfg Ansible would read, or None."""
    env = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    home = home or Path(os.path.expanduser("~"))
    candidates: list[Path] = []
    if env.get("ANSIBLE_CONFIG"):
        given = Path(os.path.expanduser(env["ANSIBLE_CONFIG"]))
        candidates.append(given / "ansible.cfg" if given.is_dir() else given)
    try:
        if not os.stat(cwd).st_mode & stat.S_IWOTH:
            candidates.append(cwd / "ansible.cfg")
    except OSError:
        pass
    candidates += [home / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def load_ansible_config(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None, home: Path | None = None
) -> AnsibleConfig:
    """ansible.cfg (if any) with ANSIBLE_* variables over it."""
    env = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    path = find_config(env, cwd, home)
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    if path is not None:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            raise ParseError(
                f"not a valid ansible.cfg: {' '.join(str(exc).split())}", path=str(path), line=line
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(f"cannot read ansible.cfg: {exc}", path=str(path)) from None
    base = path.parent if path is not None else cwd

    def value(section: str, key: str, env_name: str) -> tuple[str | None, Path]:
        if env.get(env_name, "").strip():
            return env[env_name].strip(), cwd
        if parser.has_option(section, key):
            text = parser.get(section, key).strip()
            return (text or None), base
        return None, base

    def text(section: str, key: str, env_name: str) -> str | None:
        return value(section, key, env_name)[0]

    def a_path(section: str, key: str, env_name: str) -> str | None:
        found, root = value(section, key, env_name)
        return None if found is None else str(_resolve(found, root))

    def number(section: str, key: str, env_name: str, kind: type) -> float | None:
        found = text(section, key, env_name)
        if found is None:
            return None
        try:
            result = kind(found)
        except ValueError:
            raise ParseError(
                f"[{section}] {key} = {found!r} is not a number", path=str(path or env_name)
            ) from None
        if result <= 0:
            raise ParseError(f"[{section}] {key} must be positive", path=str(path or env_name))
        return result  # type: ignore[no-any-return]

    def boolean(section: str, key: str, env_name: str) -> bool | None:
        found = text(section, key, env_name)
        if found is None:
            return None
        if found.lower() in _TRUE | _FALSE:
            return found.lower() in _TRUE
        raise ParseError(
            f"[{section}] {key} = {found!r} is not a boolean", path=str(path or env_name)
        )

    inventory_text, inventory_root = value("defaults", "inventory", "ANSIBLE_INVENTORY")
    inventory = tuple(
        _resolve(part.strip(), inventory_root)
        for part in (inventory_text or "").split(",")
        if part.strip()
    )
    forks = number("defaults", "forks", "ANSIBLE_FORKS", int)
    timeout = number("defaults", "timeout", "ANSIBLE_TIMEOUT", float)
    own = {
        key: _resolve(parser.get("remediate", key).strip(), base)
        for key in REMEDIATE_KEYS
        if parser.has_option("remediate", key) and parser.get("remediate", key).strip()
    }
    if parser.has_section("remediate"):
        for key in parser.options("remediate"):
            if key not in REMEDIATE_KEYS and key not in parser.defaults():
                raise ParseError(
                    f"[remediate] {key}: unknown setting (expected one of "
                    f"{', '.join(REMEDIATE_KEYS)})",
                    path=str(path),
                )
    return AnsibleConfig(
        path=str(path) if path else None,
        inventory=inventory,
        remote_user=text("defaults", "remote_user", "ANSIBLE_REMOTE_USER"),
        private_key_file=a_path("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"),
        forks=int(forks) if forks is not None else None,
        timeout=timeout,
        host_key_checking=boolean("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING"),
        vault_password_file=a_path(
            "defaults", "vault_password_file", "ANSIBLE_VAULT_PASSWORD_FILE"
        ),
        ssh_args=text("ssh_connection", "ssh_args", "ANSIBLE_SSH_ARGS"),
        become=boolean("privilege_escalation", "become", "ANSIBLE_BECOME"),
        become_user=text("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER"),
        become_method=text("privilege_escalation", "become_method", "ANSIBLE_BECOME_METHOD"),
        become_ask_pass=boolean(
            "privilege_escalation", "become_ask_pass", "ANSIBLE_BECOME_ASK_PASS"
        ),
        remediate=own,
    )


def _resolve(text: str, root: Path) -> Path:
    expanded = Path(os.path.expanduser(text))
    return expanded if expanded.is_absolute() else root / expanded
