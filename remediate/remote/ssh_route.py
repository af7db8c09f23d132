"""How to reach a host when Ansible's SSH settings say more than address, port, user and key:
SSH arguments (``ansible_ssh_args`` from ansible.cfg, ``ansible_ssh_common_args``,
``ansible_ssh_extra_args``), ``ansible_password`` and host-key checking settings.

The arguments are merged the way Ansible's ssh connection hands them to ssh(1), where the
first value of an option wins: ``ssh_args`` (ansible.cfg), then the inventory's port, key and
user, then ``ssh_common_args``, then ``ssh_extra_args``, then ``~/.ssh/config``.

A ProxyJump chain is opened with paramiko: each hop is an SSH client whose host key is
checked against known_hosts (``@revoked`` honoured, through ``KnownHosts``) under the same
policy as the target's, and whose ``direct-tcpip`` channel to the next hop is the next
client's socket. A ProxyCommand is started as an argument vector (no shell).
"""

from __future__ import annotations

import getpass
import os
import shlex
from dataclasses import dataclass
from typing import Any

from remediate.errors import ConnectionFailed, InventoryError
from remediate.remote.host_trust import UnknownHost, UnknownHostPolicy, aead_transport, private_key
from remediate.remote.host_trust import known_hosts as known_hosts_of
from remediate.remote.host_trust import ssh_config as user_ssh_config
from remediate.remote.ssh_args import (
    JumpHop,
    SshOptions,
    UnsupportedSshOption,
    jump_hops,
    parse_ssh_args,
    proxy_command_argv,
)

#: variables that make a host take this route (with any SSH argument)
ARG_VARS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")


@dataclass(frozen=True)
class Route:
    """Everything needed to open one host's SSH connection."""

    hostname: str
    port: int
    user: str
    keys: tuple[str, ...]
    password: str | None
    known_hosts: str
    accept_new: bool
    connect_timeout: float
    keepalive: int | None
    jump: tuple[JumpHop, ...]
    proxy_command: tuple[str, ...]

    @property
    def endpoint(self) -> str:
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        via = f" via {','.join(h.host for h in self.jump)}" if self.jump else ""
        return f"{name}:{self.port}{via}"


def host_text(host: Any, key: str) -> str | None:
    """A host's variable as text (hosts without ``vars``, as in tests, have none)."""
    setting = getattr(host, "setting", None)
    if setting is not None:  # inventory.Host: refuses undecrypted vault values and templates
        return setting(key)  # type: ignore[no-any-return]
    value = (getattr(host, "vars", None) or {}).get(key)
    return None if value is None else str(value)


def needs_route(host: Any) -> bool:
    """Whether ``host`` has SSH arguments, a password or host-key settings to honour."""
    return any(
        host_text(host, k)
        for k in (
            *ARG_VARS,
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
            "ansible_host_key_checking",
            "ansible_ssh_host_key_checking",
        )
    )


def host_options(host: Any) -> SshOptions:
    """The host's SSH options in Ansible's order (first wins); a bad one is an InventoryError."""
    try:
        options = parse_ssh_args(host_text(host, "ansible_ssh_args"), "ssh_args")
        options = options.merged(
            SshOptions(
                port=host.port,
                user=host.user,
                identity_files=(host.key_file,) if host.key_file else (),
            )
        )
        for key in ARG_VARS[1:]:
            options = options.merged(parse_ssh_args(host_text(host, key), key))
        both = (options.proxy_jump or "none", options.proxy_command or "none")
        if "none" not in (both[0].lower(), both[1].lower()):
            raise UnsupportedSshOption("ProxyJump and ProxyCommand are both set: use one")
    except UnsupportedSshOption as exc:
        raise InventoryError(f"{exc}; the host was not contacted", host=host.name) from None
    return options


def route_of(host: Any, timeout: float, accept_new: bool, known_hosts: str | None) -> Route:
    """The route to ``host`` from its options, then ~/.ssh/config for what they leave open."""
    options = host_options(host)
    config = user_ssh_config().lookup(options.hostname or host.address)
    keys = options.identity_files or tuple(config.get("identityfile", []))
    jump = options.proxy_jump or config.get("proxyjump")
    command = options.proxy_command or config.get("proxycommand")
    port = options.port or int(config.get("port", 22))
    hostname = str(config.get("hostname", options.hostname or host.address))
    user = options.user or config.get("user") or getpass.getuser()
    checking = _host_key_checking(host)
    strict = (
        options.strict_host_key_checking or str(config.get("stricthostkeychecking", "")).lower()
    )
    known = (
        known_hosts
        or options.known_hosts
        or (
            str(config["userknownhostsfile"]).split()[0] if "userknownhostsfile" in config else None
        )
        or "~/.ssh/known_hosts"
    )
    try:
        hops = tuple(jump_hops(jump)) if jump and jump.lower() != "none" else ()
        argv = (
            tuple(proxy_command_argv(command, hostname, port, user))
            if command and command.lower() != "none" and not hops
            else ()
        )
    except UnsupportedSshOption as exc:
        raise InventoryError(f"{exc}; the host was not contacted", host=host.name) from None
    return Route(
        hostname=hostname,
        port=port,
        user=user,
        keys=tuple(os.path.expanduser(k) for k in keys),
        password=host_text(host, "ansible_password")
        or host_text(host, "ansible_ssh_pass")
        or host_text(host, "ansible_ssh_password"),
        known_hosts=os.path.expanduser(known),
        accept_new=accept_new or strict in ("no", "accept-new") or checking is False,
        connect_timeout=options.connect_timeout or timeout,
        keepalive=options.server_alive_interval,
        jump=hops,
        proxy_command=argv,
    )


def _host_key_checking(host: Any) -> bool | None:
    for key in ("ansible_ssh_host_key_checking", "ansible_host_key_checking"):
        text = host_text(host, key)
        if text is not None:
            lowered = text.strip().lower()
            if lowered in ("false", "no", "off", "0", "n", "f"):
                return False
            if lowered in ("true", "yes", "on", "1", "y", "t"):
                return True
            raise InventoryError(f"{key} {text!r} is not a boolean", host=host.name)
    return None


def open_route(route: Route, name: str, timeout: float) -> tuple[Any, list[Any]]:
    """Connect along ``route``: (the target's paramiko client, the jump clients to close).

    Raises ConnectionFailed naming the hop that failed (host key, auth, TCP, banner)."""
    import paramiko

    from remediate.remote.connection import nodelay_socket

    opened: list[Any] = []
    sock: Any = None
    try:
        for index, hop in enumerate(route.jump):
            config = user_ssh_config().lookup(hop.host)
            hop_host = str(config.get("hostname", hop.host))
            hop_port = hop.port or int(config.get("port", 22))
            hop_user = hop.user or config.get("user") or getpass.getuser()
            hop_keys = route.keys or tuple(
                os.path.expanduser(k) for k in config.get("identityfile", [])
            )
            if sock is None:
                sock = _socket(nodelay_socket, hop_host, hop_port, route, f"jump host {hop.host}")
            client = _connect(
                paramiko,
                route,
                hop_host,
                hop_port,
                hop_user,
                hop_keys,
                None,
                sock,
                f"jump host {hop.host}",
            )
            opened.append(client)
            following = route.jump[index + 1] if index + 1 < len(route.jump) else None
            target = (
                (following.host, following.port or 22)
                if following
                else (route.hostname, route.port)
            )
            try:
                sock = client.get_transport().open_channel(
                    "direct-tcpip", target, ("127.0.0.1", 0), timeout=route.connect_timeout
                )
            except Exception as exc:  # noqa: BLE001  (paramiko raises several kinds)
                raise ConnectionFailed(
                    f"jump host {hop.host} cannot reach {target[0]}:{target[1]}: "
                    f"{' '.join(str(exc).split()) or type(exc).__name__}",
                    host=name,
                ) from None
        if sock is None and route.proxy_command:
            sock = paramiko.ProxyCommand(shlex.join(route.proxy_command))
        if sock is None:
            sock = _socket(nodelay_socket, route.hostname, route.port, route, route.endpoint)
        client = _connect(
            paramiko,
            route,
            route.hostname,
            route.port,
            route.user,
            route.keys,
            route.password,
            sock,
            route.endpoint,
        )
    except ConnectionFailed as exc:
        for each in reversed(opened):
            each.close()
        raise ConnectionFailed(exc.message, host=name) from None
    if route.keepalive:
        client.get_transport().set_keepalive(route.keepalive)
        for each in opened:
            each.get_transport().set_keepalive(route.keepalive)
    return client, opened


def _socket(factory: Any, hostname: str, port: int, route: Route, what: str) -> Any:
    from remediate.remote.connection import connect_error

    try:
        return factory(hostname, port, route.connect_timeout)
    except OSError as exc:
        raise ConnectionFailed(connect_error(exc, None, what, route.connect_timeout)) from None


def _connect(
    paramiko: Any,
    route: Route,
    hostname: str,
    port: int,
    user: str,
    keys: tuple[str, ...],
    password: str | None,
    sock: Any,
    what: str,
) -> Any:
    """One paramiko client, its host key checked against known_hosts before auth."""
    from remediate.remote.connection import connect_error

    client = paramiko.SSHClient()
    name = hostname if port == 22 else f"[{hostname}]:{port}"
    try:
        for key_type, key in (known_hosts_of(route.known_hosts).lookup(name) or {}).items():
            client.get_host_keys().add(name, key_type, key)
    except (OSError, paramiko.SSHException) as exc:
        raise ConnectionFailed(f"cannot read known_hosts {route.known_hosts}: {exc}") from None
    client.set_missing_host_key_policy(UnknownHostPolicy(route.accept_new, route.known_hosts))
    pkey = private_key(keys[0]) if len(keys) == 1 else None
    try:
        client.connect(
            hostname,
            port=port,
            username=user,
            password=password,
            pkey=pkey,
            key_filename=None if pkey is not None else list(keys) or None,
            timeout=route.connect_timeout,
            banner_timeout=route.connect_timeout,
            auth_timeout=route.connect_timeout,
            transport_factory=aead_transport(),
            sock=sock,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise ConnectionFailed(
            f"{what}: host key for {exc.hostname} has CHANGED (got {exc.key.get_name()} "
            f"{exc.key.fingerprint}); refusing to connect. If the host was rebuilt, remove "
            f"its old entry with: ssh-keygen -R {exc.hostname}"
        ) from None
    except UnknownHost as exc:
        client.close()
        raise ConnectionFailed(f"{what}: {exc}") from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise ConnectionFailed(f"{what}: authentication failed for user {user}: {exc}") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        transport = client.get_transport()
        banner = transport.remote_version if transport is not None else ""
        client.close()
        raise ConnectionFailed(connect_error(exc, banner, what, route.connect_timeout)) from None
    return client
