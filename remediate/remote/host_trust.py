"""Whom we trust: known_hosts (parsed once per run), the unknown-host policy, ~/.ssh/config."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import threading
from pathlib import Path
from typing import Any

_known_hosts_lock = threading.Lock()


class UnknownHost(Exception):
    pass


class UnknownHostPolicy:
    """Refuse unknown hosts, or (``--accept-new-host-keys``) record and accept them.

    A changed key never reaches this policy: paramiko raises BadHostKeyException.
    """

    def __init__(self, accept_new: bool, known_hosts: str) -> None:
        self.accept_new = accept_new
        self.known_hosts = known_hosts

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        if known_hosts(self.known_hosts).is_revoked(hostname, key):  # whatever the options say
            raise UnknownHost(
                f"host key for {hostname} ({key.get_name()} {key.fingerprint}) is marked "
                f"@revoked in {self.known_hosts}; refusing to connect"
            )
        if not self.accept_new:
            raise UnknownHost(
                f"unknown host key for {hostname} ({key.get_name()} {key.fingerprint}); "
                f"refusing to connect. Verify it and add it to {self.known_hosts}, "
                "or pass --accept-new-host-keys"
            )
        with _known_hosts_lock:
            path = Path(self.known_hosts)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with path.open("a") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)


def known_hosts(path: str) -> KnownHosts:
    """known_hosts read once per version of the file, shared by every connection."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    with _known_hosts_lock:
        return _known_hosts_for(path, stamp)


@functools.lru_cache(maxsize=4)
def _known_hosts_for(path: str, stamp: int | None) -> KnownHosts:
    return KnownHosts(path if stamp is not None else None)


class KnownHosts:
    """A known_hosts file as paramiko reads it, each line parsed only when its host is looked up.

    ``paramiko.HostKeys.load`` decodes every key and checks each name against every entry
    loaded before it, which grows with the square of the file (0.1 s for a 200-host fleet,
    paid before the first connection). Here the file is only split into lines indexed by
    name; ``lookup`` parses the lines of the one host (plain names, and hashed ``|1|``
    names checked the way paramiko checks them) and, like paramiko, the first key of each
    type in file order wins. Lines it cannot read (bad base64, unknown key types) are
    skipped, as OpenSSH skips them; ``@revoked`` keys are never trusted (paramiko's
    ``load`` raises on marker lines; ``@cert-authority`` is not used here).
    """

    def __init__(self, path: str | None) -> None:
        self._plain: dict[str, list[tuple[int, str]]] = {}
        self._hashed: list[tuple[int, str, str]] = []
        self._patterns: list[tuple[int, str, str]] = []  # (line number, names, line)
        if path is None:
            return
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, raw in enumerate(handle, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                marker = ""
                if line.startswith("@"):  # @revoked (honoured) or @cert-authority (not used here)
                    marker, _, line = line.partition(" ")
                    if marker != "@revoked":
                        continue
                names = re.split(" |\t", line, maxsplit=1)[0]
                if any(c in names for c in "*?!"):  # OpenSSH patterns: checked on every lookup
                    self._patterns.append((number, names, marker + line))
                    continue
                for name in names.split(","):
                    if name.startswith("|1|"):
                        self._hashed.append((number, name, marker + line))
                    else:
                        self._plain.setdefault(name, []).append((number, marker + line))

    def lookup(self, hostname: str) -> dict[str, Any] | None:
        """Key type -> key for ``hostname``; keys marked ``@revoked`` for it are left out."""

        entries = self._entries(hostname)
        revoked = {key.get_base64() for is_revoked, key in entries if is_revoked}
        keys: dict[str, Any] = {}
        for is_revoked, key in entries:
            if not is_revoked and key.get_base64() not in revoked:
                keys.setdefault(key.get_name(), key)
        return keys or None

    def is_revoked(self, hostname: str, key: Any) -> bool:
        """Whether a ``@revoked`` line for ``hostname`` (by name, hash or pattern) lists ``key``."""
        return any(
            is_revoked and each.get_base64() == key.get_base64()
            for is_revoked, each in self._entries(hostname)
        )

    def _entries(self, hostname: str) -> list[tuple[bool, Any]]:
        """(revoked?, key) of every line for ``hostname``, in file order."""
        import paramiko

        lines = dict(self._plain.get(hostname, []))
        for number, hashed, line in self._hashed:
            if paramiko.HostKeys.hash_host(hostname, hashed) == hashed:
                lines[number] = line
        for number, names, line in self._patterns:
            if pattern_list_matches(names, hostname):
                lines[number] = line.replace(names, "x", 1)  # paramiko cannot read patterns
        entries: list[tuple[bool, Any]] = []
        for number in sorted(lines):
            line = lines[number]
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(
                    line.removeprefix("@revoked"), number
                )
            except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError):
                continue  # OpenSSH skips a line it cannot read; paramiko's load() would raise
            if entry is not None:
                entries.append((line.startswith("@revoked"), entry.key))
        return entries


def pattern_list_matches(names: str, hostname: str) -> bool:
    """OpenSSH's host pattern list: a name matches if some pattern does and no ``!`` one does."""
    host = hostname.lower()
    matched = False
    for pattern in names.lower().split(","):
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(host, _glob(pattern.removeprefix("!"))):
            if negated:
                return False
            matched = True
    return matched


def _glob(pattern: str) -> str:
    """An OpenSSH pattern (only ``*`` and ``?`` are special) as an fnmatch pattern."""
    return "".join(f"[{c}]" if c in "[]" else c for c in pattern)


def trusted_keys(path: str) -> Any:
    """A ``paramiko.HostKeys`` that answers from ``path`` the way ``KnownHosts`` reads it, for
    clients paramiko would otherwise fill with ``load`` (which raises on ``@revoked`` lines)."""
    import paramiko

    class FromKnownHosts(paramiko.HostKeys):  # type: ignore[misc]
        def lookup(self, hostname: str) -> Any:
            added = super().lookup(hostname)  # keys accepted during this run
            if added is not None:
                return added
            found = known_hosts(path).lookup(hostname) or {}
            answer = paramiko.HostKeys()  # paramiko's own lookup type (it indexes its keys())
            for key_type, key in found.items():
                answer.add(hostname, key_type, key)
            return answer.lookup(hostname)

    return FromKnownHosts()


def private_key(path: str) -> Any:
    """The key in ``path``, read once per version of the file for the whole fleet.

    Given ``key_filename``, paramiko reads and parses the file once per host and key type
    it tries. None when the key cannot be loaded without help (a passphrase, an unknown
    format, a missing file): paramiko then reads it itself and reports what is wrong.
    """
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    with _known_hosts_lock:
        return _private_key_for(path, stamp)


@functools.lru_cache(maxsize=8)
def _private_key_for(path: str, stamp: int) -> Any:
    import paramiko

    try:
        return paramiko.PKey.from_path(path)
    except (OSError, ValueError, paramiko.SSHException):
        return None


@functools.cache
def aead_transport() -> type:
    """A paramiko Transport that offers AES-GCM first (then paramiko's usual ciphers).

    With an AEAD cipher every packet is sealed and checked in one call into OpenSSL;
    AES-CTR + HMAC costs a separate HMAC and a MAC comparison paramiko does byte by byte
    in Python, which at fleet scale was a measurable share of the controller's CPU.
    Servers without GCM (OpenSSH before 6.2) still get CTR: nothing is disabled.
    """
    import paramiko

    class AeadFirstTransport(paramiko.Transport):
        _preferred_ciphers = (
            *(c for c in paramiko.Transport._preferred_ciphers if c.endswith("-gcm@openssh.com")),
            *(
                c
                for c in paramiko.Transport._preferred_ciphers
                if not c.endswith("-gcm@openssh.com")
            ),
        )

    return AeadFirstTransport


def ssh_config() -> Any:
    """The user's ~/.ssh/config (paramiko's parser, as fabric uses), parsed once per version."""
    path = os.path.join(os.path.expanduser("~"), ".ssh", "config")
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    return _ssh_config_for(path, stamp)


@functools.lru_cache(maxsize=4)
def _ssh_config_for(path: str, stamp: int | None) -> Any:
    import paramiko

    return paramiko.SSHConfig.from_path(path) if stamp is not None else paramiko.SSHConfig()
