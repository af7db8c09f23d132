"""Target selection: which hosts each play reaches, what files each host manages, and the
variables its templates see. Everything that can be checked without a host (inventory, playbook,
templates) is checked by ``prepare`` before any connection is made."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediate.errors import HostPatternError, ParseError, PlaybookError, TemplateError
from remediate.formats import ABSENT, parse
from remediate.playbook.host_checks import check_file_vars, check_host
from remediate.playbook.render import Renderer
from remediate.playbook.schema import GLOB_CHARS, FileSpec, Handler, Play, Playbook

#: broker URL settings a celery file may name, in the spellings Celery accepts
BROKER_URL_NAMES = ("broker_url", "BROKER_URL", "CELERY_BROKER_URL")
#: schemes the pre-flight render tries, so both branches of a celery template are checked
PREFLIGHT_SCHEMES = ("redis", "amqp")


@dataclass(frozen=True)
class ManagedFile:
    spec: FileSpec
    remote_path: str
    handlers: Mapping[str, Handler]
    variables: Mapping[str, Any]  # what its template sees: play defaults < host vars < play vars
    matched: str = ""  # the pattern (spec.path on the host) this file is one match of

    @property
    def is_pattern(self) -> bool:
        """A pattern still to expand on the host (not one of its matches)."""
        return self.spec.is_glob and not self.matched


@dataclass(frozen=True)
class PlaySelection:
    """The hosts each play reaches (in playbook order), and the plays that reach none."""

    per_play: tuple[tuple[Play, tuple[Any, ...]], ...]

    @property
    def unmatched(self) -> list[str]:
        """One line per play whose hosts: matched nothing (as Ansible warns, not an error)."""
        return [
            f"play {play.name!r} (hosts: {play.hosts}) matches no host"
            for play, hosts in self.per_play
            if not hosts
        ]


@dataclass(frozen=True)
class HostTarget:
    """One selected host, what it manages, and the variables its templates see."""

    host: Any  # inventory.Host
    files: tuple[ManagedFile, ...]

    @property
    def variables(self) -> Mapping[str, Any]:
        return self.host.vars

    @property
    def paths(self) -> list[str]:
        """The literal paths it manages (as on the host)."""
        return [m.remote_path for m in self.files if not m.is_pattern]

    @property
    def globs(self) -> list[str]:
        """The patterns it manages (as on the host), expanded by the host's gather."""
        return [m.remote_path for m in self.files if m.is_pattern]


def expand_globs(
    target: HostTarget, matches: Mapping[str, Sequence[str]]
) -> tuple[HostTarget, tuple[tuple[str, str], ...]]:
    """``target`` as one host has it: each pattern replaced, in place, by one managed file per
    path it matched there (``matches``: pattern -> paths, from the host's gather), and the
    (kind, pattern) of each pattern that matched nothing. Which files a pattern manages is a fact of each host, found
    in the same round trip that reads them: the targets prepared before any connection hold
    the pattern, and every host's plan lists its own matches.

    A path managed literally is planned by that entry; a match managed by another entry with
    other settings (template, strategy, mode, live, validate, notify) is a PlaybookError."""
    if not target.globs:
        return target, ()
    literal = {m.remote_path: m for m in target.files if not m.is_pattern}
    files: dict[str, ManagedFile] = {}
    unmatched = []
    for managed in target.files:
        if not managed.is_pattern:
            files.setdefault(managed.remote_path, managed)
            continue
        found = matches.get(managed.remote_path, ())
        if not found:
            unmatched.append((managed.spec.kind, managed.remote_path))
        for path in found:
            other = files.get(path) or literal.get(path)
            if other is not None:
                if _settings(other.spec) != _settings(managed.spec):
                    at = f" (playbook line {managed.spec.line})" if managed.spec.line else ""
                    raise PlaybookError(
                        f"{path} matches {managed.spec.path}{at} but is managed with other "
                        f"settings by {other.spec.path}",
                        host=target.host.name,
                    )
                continue
            files[path] = ManagedFile(
                managed.spec, path, managed.handlers, managed.variables, managed.remote_path
            )
    return HostTarget(target.host, tuple(files.values())), tuple(unmatched)


def _settings(spec: FileSpec) -> tuple[Any, ...]:
    return (
        spec.kind,
        spec.template,
        spec.strategy,
        spec.mode,
        spec.live,
        spec.validate,
        spec.notify,
    )


def remote_path(root: str, path: str) -> str:
    """``path`` under the host's ``remediate_root`` (a prefix; "/" by default)."""
    if not root or root == "/":
        return path
    return posixpath.join(root, path.lstrip("/"))


def select_plays(inventory: Any, playbook: Playbook, limit: str | None = None) -> PlaySelection:
    """The hosts each play reaches within ``limit``. A malformed pattern, or no host at all
    to target, is a HostPatternError naming the pattern (an empty run is never "clean")."""
    if limit:  # a malformed --limit is named as such, before any play
        try:
            inventory.select(limit, within="")
        except HostPatternError as error:
            raise HostPatternError(f"--limit: {error.message}") from None
    per_play = []
    for play in playbook.plays:
        try:
            hosts = (
                inventory.select(limit, within=play.hosts)
                if limit
                else inventory.select(play.hosts)
            )
        except HostPatternError as error:
            raise HostPatternError(
                f"play {play.name!r}: hosts: {error.message}", path=playbook.path, line=play.line
            ) from None
        per_play.append((play, tuple(hosts)))
    if not any(hosts for _, hosts in per_play):
        patterns = ", ".join(dict.fromkeys(play.hosts for play in playbook.plays)) or "no plays"
        if limit and not inventory.select(limit):
            raise HostPatternError(
                f"--limit {limit!r} matches no host in the inventory: no hosts to target"
            )
        if limit:
            raise HostPatternError(
                f"--limit {limit!r} matches no host of any play "
                f"(hosts: {patterns}): no hosts to target"
            )
        raise HostPatternError(
            f"no play's hosts: pattern matches a host in the inventory "
            f"(hosts: {patterns}): no hosts to target",
            path=playbook.path,
        )
    return PlaySelection(tuple(per_play))


def prepare(
    inventory: Any,
    playbook: Playbook,
    renderer: Renderer,
    limit: str | None = None,
    shard: tuple[int, int] | None = None,
    selection: PlaySelection | None = None,
    extra_vars: Mapping[str, Any] | None = None,
) -> list[HostTarget]:
    """Resolve plays to hosts and pre-render every template: all input errors surface here.

    ``selection``: the plays' hosts if already resolved (``select_plays``), else resolved here.
    An empty shard of a non-empty selection is no error: its report still merges.
    """
    per_host: dict[str, dict[str, ManagedFile]] = {}
    hosts: dict[str, Any] = {}
    for play, play_hosts in (selection or select_plays(inventory, playbook, limit)).per_play:
        for host in play_hosts:
            check_host(host)  # before any host is contacted: nothing written on bad input
            hosts[host.name] = host
            variables = {
                **play.defaults,
                **host.vars,
                **play.vars,
                **(extra_vars or {}),  # -e: above everything, as in Ansible
                "inventory_hostname": host.name,
                "group_names": sorted(host.groups),
            }
            check_file_vars(host.name, variables)
            files = per_host.setdefault(host.name, {})
            for spec in play.files:
                if spec.is_glob and any(c in (host.root or "") for c in GLOB_CHARS):
                    raise PlaybookError(
                        f"{spec.path} is a pattern, and {host.name}'s remediate_root "
                        f"{host.root!r} has pattern characters ({GLOB_CHARS})",
                        path=playbook.path,
                        line=spec.line,
                    )
                path = remote_path(host.root, spec.path)
                if path in files and files[path].spec != spec:
                    raise PlaybookError(
                        f"{spec.path} is managed by two plays for host {host.name}",
                        path=playbook.path,
                        line=spec.line,
                    )
                files[path] = ManagedFile(spec, path, play.handlers, variables)
    targets = []
    parsed: set[tuple[str, bytes]] = set()
    for name, files in per_host.items():
        for managed in files.values():
            renderer.check(managed.spec.template)
            for scheme in preflight_schemes(managed.variables):
                variables = template_vars(managed.variables, {}, scheme)
                rendered = renderer.render(managed.spec.template, variables)
                absent_settings(managed.spec, renderer, variables, playbook.path)
                if (managed.spec.kind, rendered) not in parsed:  # hosts mostly render alike
                    check_rendered(managed, rendered, renderer, name)
                    parsed.add((managed.spec.kind, rendered))
        targets.append(HostTarget(hosts[name], tuple(files.values())))
    order = {name: i for i, name in enumerate(inventory.hosts)}
    targets.sort(key=lambda t: order.get(t.host.name, len(order)))
    if shard:
        targets = [t for t in targets if shard_of(t.host.name, shard[1]) == shard[0] - 1]
    return targets


def absent_settings(
    spec: FileSpec, renderer: Renderer, variables: Mapping[str, Any], where: str = ""
) -> tuple[str, ...]:
    """The settings ``spec``'s ``absent:`` removes for a host whose templates see
    ``variables``: every entry whose ``when:`` (if any) is true."""
    return tuple(
        a.setting
        for a in spec.absent
        if a.when is None or renderer.condition(a.when, variables, where, a.line)
    )


def preflight_schemes(variables: Mapping[str, Any]) -> tuple[str, ...]:
    """Both broker branches, and the host's own transport if it names another one."""
    own = str(variables.get("celery_broker_transport") or "")
    return PREFLIGHT_SCHEMES + ((own,) if own and own not in PREFLIGHT_SCHEMES else ())


def check_rendered(managed: ManagedFile, rendered: bytes, renderer: Renderer, host: str) -> None:
    """What a template renders for a host must parse as its kind, before any host is contacted."""
    try:
        doc = parse(managed.spec.kind, rendered, managed.spec.template)
        if doc.problems:  # a line its program refuses or misreads (an unknown directive...)
            bad = doc.problems[0]
            raise ParseError(bad.reason, path=managed.spec.template, line=bad.line)
    except ParseError as exc:
        where = f"line {exc.line} of its output: " if exc.line else ""
        raise TemplateError(
            f"renders a {managed.spec.kind} file its program would refuse, for host {host}: "
            f"{where}{exc.message}",
            path=str(renderer.directory / managed.spec.template),
        ) from None


def shard_of(name: str, shards: int) -> int:
    """A stable shard for a host name (it never moves as the inventory grows)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % shards


def template_vars(
    variables: Mapping[str, Any], live_settings: Mapping[str, Any], scheme: str | None = None
) -> dict[str, Any]:
    """Variables a template sees: host + play vars, the live file's settings, the broker scheme."""
    if scheme is None:
        scheme = str(variables.get("celery_broker_transport") or broker_scheme(live_settings))
    return {**variables, "live_settings": dict(live_settings), "broker_scheme": scheme}


def broker_scheme(settings: Mapping[str, Any]) -> str:
    """The broker transport a celery file uses (Celery's default broker is AMQP)."""
    for name in BROKER_URL_NAMES:
        value = settings.get(name, ABSENT)
        if value is ABSENT:
            continue
        # a literal URL, or the first URL literal inside an expression such as
        # os.environ.get("CELERY_BROKER_URL", "redis://...")
        match = re.search(r"([a-zA-Z][a-zA-Z0-9+]*)://", str(value))
        if match:
            scheme = match.group(1).lower()
            return {"pyamqp": "amqp", "amqps": "amqp", "librabbitmq": "amqp"}.get(scheme, scheme)
    return "amqp"


def inventory_targets(
    inventory: Any, limit: str | None, shard: tuple[int, int] | None = None
) -> list[HostTarget]:
    """Hosts of the inventory (for rollback and runs: no playbook needed); none is an error."""
    hosts = inventory.select(limit) if limit else list(inventory.hosts.values())
    if not hosts:
        raise HostPatternError(
            f"--limit {limit!r} matches no host in the inventory: no hosts to target"
            if limit
            else "the inventory has no hosts: no hosts to target"
        )
    if shard:
        hosts = [h for h in hosts if shard_of(h.name, shard[1]) == shard[0] - 1]
    for host in hosts:
        check_host(host)
    return [HostTarget(h, ()) for h in hosts]
