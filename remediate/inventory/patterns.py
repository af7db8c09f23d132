"""Ansible host patterns, both kinds: inventory entries and --limit selections.

Inventory entries are a host name or address with an optional port and
``[begin:end(:step)]`` ranges (``redis[01:20]``, ``node[a:c]``, ``db[1:9:2]:2222``).

Selections (``--limit``, a play's ``hosts:``) follow ansible-core's rules:
``a:b`` / ``a,b`` union, ``a:&b`` intersection, ``a:!b`` exclusion, applied as
all unions first, then intersections, then exclusions; shell globs, ``~regex``,
group and host names, ``all`` and ``*``, and subscripts (``redis[0]``,
``redis[1:2]``, ``redis[-1]``).  A pattern that matches nothing selects nothing;
the caller reports it.  A malformed pattern (an unclosed ``[``, a bare ``&`` or
``!``, a bad regex) is a HostPatternError: ansible-core would drop the stray
characters and select something else (``~[`` would become ``~``: every host).

Everything here works on names and is pure.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import string
from collections.abc import Sequence
from typing import Protocol

from remediate.errors import HostPatternError

# Names Ansible treats as the controller when no inventory host is called that.
LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")

_NAME_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_NAME_RANGE})(?:[\w-]|{_NAME_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.IGNORECASE)
_BRACKETED_WITH_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_WITH_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_COLON_SEPARATED = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")


def parse_address(address: str, *, allow_ranges: bool = False) -> tuple[str, int | None]:
    """Split ``host``, ``host:port`` or ``[host]:port`` into (host, port).

    Raises ValueError when what is left is not a host name, IPv4 or IPv6
    address (ranges allowed in names when ``allow_ranges``).
    """
    port: int | None = None
    for with_port in (_BRACKETED_WITH_PORT, _WITH_PORT):
        match = with_port.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if not (_HOSTNAME.match(address) or _is_ipv6(address)):
        raise ValueError(f"not a valid host name or address: {address}")
    if not allow_ranges and "[" in address:
        raise ValueError(f"a range is not allowed here: {address}")
    return address, port


def _is_ipv6(address: str) -> bool:
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return "%" not in address


def expand_host_entry(entry: str) -> tuple[list[str], int | None]:
    """Expand an inventory host entry into host names and the port they share.

    An entry that is not a valid address is taken as a name, as Ansible does.
    Raises ValueError for a malformed range.
    """
    try:
        name, port = parse_address(entry, allow_ranges=True)
    except ValueError:
        name, port = entry, None
    return expand_hostname_range(name), port


#: The most host names one inventory entry may expand to (``h[0:99999999]`` is a typo, not
#: a fleet: expanding it would take minutes and gigabytes before any error).
MAX_RANGE_HOSTS = 100_000


def expand_hostname_range(name: str) -> list[str]:
    """``web[01:03].lan`` -> web01.lan, web02.lan, web03.lan (several ranges nest)."""
    if "[" not in name:
        return [name]
    if range_size(name) > MAX_RANGE_HOSTS:
        raise ValueError(
            f"host range {name!r} expands to {range_size(name):,} hosts, more than the "
            f"{MAX_RANGE_HOSTS:,} one entry may name"
        )
    return _expand(name)


def range_size(name: str) -> int:
    """How many names ``name``'s ranges expand to, without expanding them (0 if malformed)."""
    size = 1
    for spec in re.findall(r"\[([^\]]*)\]", name):
        bounds = spec.split(":")
        if len(bounds) not in (2, 3):
            return size
        begin, end = bounds[0] or "0", bounds[1]
        step = bounds[2] if len(bounds) == 3 else "1"
        if begin.isdigit() and end.isdigit() and step.isdigit() and int(step) > 0:
            size *= max(0, len(range(int(begin), int(end) + 1, int(step))))
        else:
            size *= len(string.ascii_letters)  # letters: at most 52
    return size


def _expand(name: str) -> list[str]:
    if "[" not in name:
        return [name]
    parts = name.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        raise ValueError(f"host range in {name!r} is not closed, or the name contains '|'")
    head, spec, tail = parts
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range [{spec}] must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range [{spec}] has no end value")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise ValueError(
            f"host range [{spec}] must give begin and end with the same number of digits"
        )
    try:
        values = _alphabetic_range(begin, end, step)
    except _DescendingRange as error:
        raise ValueError(str(error)) from None
    except ValueError:
        try:
            values = [str(n) for n in range(int(begin), int(end) + 1, int(step))]
        except ValueError:
            raise ValueError(f"host range [{spec}] is neither numeric nor alphabetic") from None
    names: list[str] = []
    for value in values:
        names.extend(_expand(head + value.zfill(width) + tail))
    return names


def _alphabetic_range(begin: str, end: str, step: str) -> list[str]:
    """Letters begin..end (as Ansible indexes them in a-zA-Z); ValueError if not letters."""
    first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
    if first > last:
        raise _DescendingRange(f"host range [{begin}:{end}] must have begin <= end")
    return list(string.ascii_letters[first : last + 1 : int(step)])


class _DescendingRange(Exception):
    """Not a ValueError on purpose: a descending letter range is an error, not a number."""


def split_host_pattern(pattern: str) -> list[str]:
    """'a,b[1], c[2:3] , d' -> ['a', 'b[1]', 'c[2:3]', 'd']; 'a:&b:!c' -> ['a', '&b', '!c'].

    Raises HostPatternError for a malformed pattern (see ``check_single_pattern``).
    """
    if "," in pattern:
        parts = pattern.split(",")
    else:
        try:
            parse_address(pattern, allow_ranges=True)
            parts = [pattern]
        except ValueError:
            parts = _COLON_SEPARATED.findall(pattern)
            if re.sub(r"[:\s]", "", _COLON_SEPARATED.sub("", pattern)):
                raise HostPatternError(f"malformed host pattern {pattern!r}: unbalanced '[' or ']'")
    singles = [part.strip() for part in parts if part.strip()]
    for single in singles:
        check_single_pattern(single, pattern)
    return singles


def check_single_pattern(single: str, whole: str | None = None) -> None:
    """Raise HostPatternError unless ``single`` (one part of ``whole``) is a usable pattern:
    '&' or '!' must prefix something, brackets must pair, a ``~regex`` must compile."""
    where = f" in {whole!r}" if whole is not None and whole != single else ""
    body = single[1:] if single[:1] in ("&", "!") else single
    if not body.strip():
        raise HostPatternError(
            f"malformed host pattern {single!r}{where}: "
            f"{single[:1]!r} must be followed by a pattern"
        )
    if body.startswith("~"):
        try:
            re.compile(body[1:])
        except re.error as error:
            raise HostPatternError(
                f"invalid regex in host pattern {single!r}{where}: {error}"
            ) from None
    elif _COLON_SEPARATED.sub("", body.replace(":", "")):
        raise HostPatternError(f"malformed host pattern {single!r}{where}: unbalanced '[' or ']'")


class HostUniverse(Protocol):
    """What selection needs to know about an inventory, by name."""

    @property
    def group_names(self) -> Sequence[str]:
        """Every group, in definition order (all and ungrouped included)."""
        ...

    @property
    def host_names(self) -> Sequence[str]:
        """Every host, in definition order (no implicit localhost)."""
        ...

    def group_members(self, group: str) -> Sequence[str]:
        """Hosts of a group and of its descendants, in Ansible's order."""
        ...

    def localhost_for(self, name: str) -> str:
        """The host a localhost-like pattern falls back to (explicit or implicit)."""
        ...


def select_host_names(
    universe: HostUniverse, within: Sequence[str], limit: Sequence[str] | None = None
) -> list[str]:
    """Hosts matching the ``within`` patterns (a play's hosts), restricted by ``limit``.

    ``limit`` None or empty means no restriction, as with ``ansible --limit ''``.
    """
    names = evaluate_patterns(universe, within)
    if limit:
        allowed = set(evaluate_patterns(universe, limit))
        names = [name for name in names if name in allowed]
    return list(dict.fromkeys(names))


def order_patterns(patterns: Sequence[str]) -> list[str]:
    """Unions first, then '&' intersections, then '!' exclusions; 'all' if no union."""
    unions = [p for p in patterns if p and p[0] not in "&!"]
    intersections = [p for p in patterns if p and p[0] == "&"]
    exclusions = [p for p in patterns if p and p[0] == "!"]
    return (unions or ["all"]) + intersections + exclusions


def evaluate_patterns(universe: HostUniverse, patterns: Sequence[str]) -> list[str]:
    """Apply single patterns in Ansible's order; the result may repeat a name."""
    known_hosts = set(universe.host_names)
    selected: list[str] = []
    for pattern in order_patterns(patterns):
        check_single_pattern(pattern)
        if pattern in known_hosts:
            selected.append(pattern)
            continue
        matched = match_one_pattern(universe, pattern)
        if pattern[0] == "!":
            excluded = set(matched)
            selected = [name for name in selected if name not in excluded]
        elif pattern[0] == "&":
            kept = set(matched)
            selected = [name for name in selected if name in kept]
        else:
            already = set(selected)
            selected.extend(name for name in matched if name not in already)
    return selected


def match_one_pattern(universe: HostUniverse, pattern: str) -> list[str]:
    """Hosts of one pattern, ignoring its '&' or '!' prefix; subscripts applied."""
    if pattern[0] in "&!":
        pattern = pattern[1:]
    expression, subscript = split_subscript(pattern)
    return apply_subscript(_enumerate_matches(universe, expression), subscript)


def split_subscript(pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    """'web[1:3]' -> ('web', (1, 3)); 'web[2]' -> ('web', (2, None)); regexes untouched."""
    if pattern.startswith("~"):
        return pattern, None
    match = _SUBSCRIPT.match(pattern)
    if not match:
        return pattern, None
    expression, index, start, _separator, end = match.groups()
    if index:
        return expression, (int(index), None)
    return expression, (int(start), int(end) if end else -1)


def apply_subscript(names: list[str], subscript: tuple[int, int | None] | None) -> list[str]:
    """Ansible's inclusive [start:end]; [i] one host; out of range selects nothing."""
    if not names or subscript is None:
        return names
    start, end = subscript
    if end:
        stop = len(names) - 1 if end == -1 else end
        return names[start : stop + 1]
    try:
        return [names[start]]
    except IndexError:
        return []


def _enumerate_matches(universe: HostUniverse, expression: str) -> list[str]:
    results: list[str] = []
    matching_groups = _match_names(universe.group_names, expression)
    for group in matching_groups:
        results.extend(universe.group_members(group))
    is_wildcard = expression[0] == "~" or any(ch in expression for ch in ".?*[")
    if not matching_groups or is_wildcard:
        results.extend(_match_names(universe.host_names, expression))
    if not results and expression in LOCALHOST_NAMES:
        results.append(universe.localhost_for(expression))
    return results


def _match_names(names: Sequence[str], expression: str) -> list[str]:
    try:
        if expression.startswith("~"):
            regex = re.compile(expression[1:])
        else:
            regex = re.compile(fnmatch.translate(expression))
    except re.error as error:
        raise HostPatternError(f"invalid regex in host pattern {expression!r}: {error}") from None
    return [name for name in names if regex.match(name)]
