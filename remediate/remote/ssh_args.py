"""OpenSSH command-line arguments as Ansible passes them: ``ansible_ssh_common_args``,
``ansible_ssh_extra_args`` and ansible.cfg's ``[ssh_connection] ssh_args``.

    parse_ssh_args("-o ProxyJump=root@bastion -p 2222")   # SshOptions(proxy_jump=..., port=2222)

Pure: words are split with ``shlex`` as ssh(1) would receive them from Ansible, then read
with ssh's own rules: ``-o Key=Value``, ``-o "Key Value"``, ``-oKey=Value``, ``-J``, ``-p``,
``-i``, ``-l`` (also attached: ``-p2222``); option names are case-insensitive and, as in
ssh_config(5), the first value obtained for an option wins (``IdentityFile`` accumulates).
An option that changes how a host is reached and that the tool cannot honour raises
``UnsupportedSshOption`` naming it: it is never silently dropped. Options that only tune
OpenSSH's own process (connection sharing, compression, logging) are accepted and have no
effect on a paramiko connection; ``IGNORED`` lists them with the reason.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from typing import Any

#: ssh -o options that are honoured (lower-case name -> SshOptions field)
HONOURED = {
    "proxyjump": "proxy_jump",
    "proxycommand": "proxy_command",
    "port": "port",
    "user": "user",
    "identityfile": "identity_files",
    "userknownhostsfile": "known_hosts",
    "stricthostkeychecking": "strict_host_key_checking",
    "connecttimeout": "connect_timeout",
    "serveraliveinterval": "server_alive_interval",
    "hostname": "hostname",
}

#: options accepted without effect: they tune the ssh process, not whom or how we reach
IGNORED = {
    "controlmaster": "connection sharing: remediate keeps one connection per host itself",
    "controlpersist": "connection sharing: remediate keeps one connection per host itself",
    "controlpath": "connection sharing: remediate keeps one connection per host itself",
    "compression": "compression does not change which host is reached",
    "loglevel": "ssh's own logging",
    "serveralivecountmax": "paramiko sends keepalives without counting replies",
    "identitiesonly": "remediate offers only the configured keys when a key is configured",
    "forwardagent": "remediate never connects onwards from a host",
    "forwardx11": "remediate never opens X11 channels",
    "gssapiauthentication": "paramiko's GSSAPI is not used (keys or password are)",
}

#: flags without a value that are accepted without effect
IGNORED_FLAGS = {"-C": "compression", "-q": "quiet", "-v": "verbose", "-T": "no tty", "-n": ""}

#: flags that take a value: -o, -J, -p, -i, -l are read; the rest are unsupported
VALUE_FLAGS = set("bBcDEeFIiJLlmOoPpQRSWw")


class UnsupportedSshOption(ValueError):
    """An SSH argument the tool cannot honour (its text names the option)."""


@dataclass(frozen=True)
class SshOptions:
    """What SSH arguments say about reaching a host (None: not said)."""

    proxy_jump: str | None = None  # "[user@]host[:port][,...]" or "none"
    proxy_command: str | None = None  # with %h %p %r %%, or "none"
    port: int | None = None
    user: str | None = None
    identity_files: tuple[str, ...] = ()
    known_hosts: str | None = None
    strict_host_key_checking: str | None = None  # yes | no | accept-new (ask: refused)
    connect_timeout: float | None = None
    server_alive_interval: int | None = None
    hostname: str | None = None
    given: tuple[str, ...] = field(default=(), compare=False)  # options seen, for messages

    def merged(self, later: SshOptions) -> SshOptions:
        """These options, with ``later``'s filling what these do not say (first wins)."""
        values = {}
        for name in HONOURED.values():
            mine = getattr(self, name)
            if name == "identity_files":
                values[name] = mine + getattr(later, name)
            elif mine is None:
                values[name] = getattr(later, name)
        return replace(self, **values, given=self.given + later.given)


def parse_ssh_args(text: str | None, source: str = "ssh arguments") -> SshOptions:
    """``text`` (one string of ssh arguments) as SshOptions; ``source`` names it in errors."""
    if not text or not text.strip():
        return SshOptions()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UnsupportedSshOption(f"{source}: cannot split {text!r}: {exc}") from None
    options = SshOptions()
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-") or word == "-":
            raise UnsupportedSshOption(
                f"{source}: {word!r} is not an ssh option (a host or command is not allowed here)"
            )
        flag, attached = word[:2], word[2:]
        if flag in IGNORED_FLAGS and not attached:
            i += 1
            continue
        if flag[1:] not in VALUE_FLAGS:
            raise UnsupportedSshOption(f"{source}: ssh option {word} is not supported by remediate")
        if attached:
            value = attached
        elif i + 1 < len(words):
            i += 1
            value = words[i]
        else:
            raise UnsupportedSshOption(f"{source}: ssh option {flag} needs a value")
        i += 1
        if flag == "-o":
            key, value = _split_option(value, source)
        elif flag in ("-J", "-p", "-i", "-l"):
            key = {"-J": "proxyjump", "-p": "port", "-i": "identityfile", "-l": "user"}[flag]
        else:
            raise UnsupportedSshOption(
                f"{source}: ssh option {flag} {value} is not supported by remediate"
            )
        options = _set(options, key, value, source)
    return options


def _split_option(text: str, source: str) -> tuple[str, str]:
    """``Key=Value`` or ``Key Value`` (ssh -o) -> (lower-case key, value)."""
    stripped = text.strip()
    cut = min(
        (i for i in (stripped.find("="), stripped.find(" "), stripped.find("\t")) if i > 0),
        default=-1,
    )
    if cut <= 0:
        raise UnsupportedSshOption(f"{source}: -o {text!r} is not Key=Value")
    key = stripped[:cut].strip().lower()
    value = stripped[cut + 1 :].strip().lstrip("=").strip()
    if not value:
        raise UnsupportedSshOption(f"{source}: -o {stripped[:cut]} has no value")
    return key, value


def _set(options: SshOptions, key: str, value: str, source: str) -> SshOptions:
    if key in IGNORED:
        return replace(options, given=(*options.given, key))
    name = HONOURED.get(key)
    if name is None:
        raise UnsupportedSshOption(
            f"{source}: ssh option {key!r} is not supported by remediate "
            "(it cannot be honoured, so the host is not contacted)"
        )
    given = (*options.given, key)
    if name == "identity_files":
        return replace(options, identity_files=(*options.identity_files, value), given=given)
    if getattr(options, name) is not None:  # ssh: the first value obtained wins
        return replace(options, given=given)
    parsed: Any = value
    if name in ("port", "server_alive_interval"):
        if not value.isdigit() or (name == "port" and not 0 < int(value) < 65536):
            raise UnsupportedSshOption(f"{source}: {key} {value!r} is not a number")
        parsed = int(value)
    elif name == "connect_timeout":
        try:
            parsed = float(value)
        except ValueError:
            raise UnsupportedSshOption(
                f"{source}: ConnectTimeout {value!r} is not a number"
            ) from None
    elif name == "strict_host_key_checking":
        lowered = value.lower()
        if lowered not in ("yes", "no", "accept-new", "off"):
            raise UnsupportedSshOption(
                f"{source}: StrictHostKeyChecking {value!r} is not supported "
                "(yes, accept-new or no; remediate never asks)"
            )
        parsed = "no" if lowered == "off" else lowered
    return replace(options, **{name: parsed}, given=given)


@dataclass(frozen=True)
class JumpHop:
    """One hop of a ProxyJump chain."""

    host: str
    user: str | None = None
    port: int | None = None


def jump_hops(spec: str) -> list[JumpHop]:
    """``[user@]host[:port][,...]`` (also ``ssh://user@host:port``) -> hops, first first."""
    hops = []
    for part in spec.split(","):
        text = part.strip().removeprefix("ssh://")
        if not text:
            raise UnsupportedSshOption(f"ProxyJump {spec!r}: empty hop")
        user, _, hostport = text.rpartition("@")
        host, port = hostport, None
        if hostport.startswith("["):  # [v6]:port
            host, _, rest = hostport[1:].partition("]")
            port = rest.removeprefix(":") or None
        elif hostport.count(":") == 1:
            host, port = hostport.split(":")
        if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
            raise UnsupportedSshOption(f"ProxyJump {spec!r}: port {port!r} is not a TCP port")
        hops.append(JumpHop(host, user or None, int(port) if port else None))
    return hops


def proxy_command_argv(command: str, host: str, port: int, user: str) -> list[str]:
    """ProxyCommand as an argument vector (no shell): ``%h %p %r %%`` expanded in each word."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise UnsupportedSshOption(f"ProxyCommand {command!r}: {exc}") from None
    if not words:
        raise UnsupportedSshOption("ProxyCommand is empty")
    table = {"h": host, "p": str(port), "r": user, "%": "%", "n": host}
    out = []
    for word in words:
        chars, i = [], 0
        while i < len(word):
            if word[i] == "%" and i + 1 < len(word):
                token = word[i + 1]
                if token not in table:
                    raise UnsupportedSshOption(
                        f"ProxyCommand token %{token} is not supported (%h %p %r %n %%)"
                    )
                chars.append(table[token])
                i += 2
            else:
                chars.append(word[i])
                i += 1
        out.append("".join(chars))
    return out
