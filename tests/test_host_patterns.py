"""Host patterns: inventory ranges and --limit selection, checked against ansible-core.

expected-limit.json holds what ``ansible all -i INV --list-hosts -l PATTERN`` printed,
expected-play.json what ``ansible PATTERN -i INV --list-hosts`` printed (a play's hosts).
Where ansible-core's own host order is arbitrary (expected-all-orders.json has more
than one order: it walks same-level groups through a set), selections compare as sets.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from remediate.errors import HostPatternError, UsageError
from remediate.inventory.loader import Inventory, load_inventory
from remediate.inventory.patterns import (
    apply_subscript,
    expand_host_entry,
    expand_hostname_range,
    order_patterns,
    parse_address,
    split_host_pattern,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inventories"


@cache
def inventory(name: str) -> Inventory:
    fixture = FIXTURES / name
    args = (fixture / "args").read_text().split()
    return load_inventory([arg if "," in arg else str(fixture / arg) for arg in args])


def recorded(filename: str) -> list[Any]:
    cases: list[Any] = []
    for output in sorted(FIXTURES.glob(f"*/{filename}")):
        for pattern, hosts in json.loads(output.read_text()).items():
            cases.append(
                pytest.param(
                    output.parent.name, pattern, hosts, id=f"{output.parent.name}:{pattern}"
                )
            )
    return cases


def ansible_orders(fixture: str) -> list[list[str]]:
    return json.loads((FIXTURES / fixture / "expected-all-orders.json").read_text())  # type: ignore[no-any-return]


def comparable(fixture: str, names: list[str]) -> list[str]:
    return sorted(names) if len(ansible_orders(fixture)) > 1 else names


@pytest.mark.parametrize(("fixture", "pattern", "hosts"), recorded("expected-limit.json"))
def test_limit_selects_what_ansible_selects(fixture: str, pattern: str, hosts: list[str]) -> None:
    selected = [host.name for host in inventory(fixture).select(pattern)]
    assert comparable(fixture, selected) == comparable(fixture, hosts)


@pytest.mark.parametrize(("fixture", "pattern", "hosts"), recorded("expected-play.json"))
def test_play_hosts_select_what_ansible_selects(
    fixture: str, pattern: str, hosts: list[str]
) -> None:
    selected = [host.name for host in inventory(fixture).select(within=pattern)]
    assert comparable(fixture, selected) == comparable(fixture, hosts)


@pytest.mark.parametrize(
    "fixture", sorted(p.parent.name for p in FIXTURES.glob("*/expected-all-orders.json"))
)
def test_host_order_is_one_ansible_produces(fixture: str) -> None:
    assert [host.name for host in inventory(fixture).select()] in ansible_orders(fixture)


def test_there_are_enough_recorded_patterns() -> None:
    assert len(recorded("expected-limit.json")) >= 60


def test_no_limit_is_every_host_in_play_order() -> None:
    inv = inventory("ini-ranges")
    everything = json.loads((FIXTURES / "ini-ranges" / "expected-limit.json").read_text())["all"]
    assert [host.name for host in inv.select(None)] == everything
    assert inv.select("") == inv.select(None)  # like ansible --limit ''


def test_limit_and_play_hosts_together() -> None:
    inv = inventory("example")
    assert [h.name for h in inv.select("~redis-0[23]:worker-01", within="redis")] == [
        "redis-02",
        "redis-03",
    ]
    assert [h.name for h in inv.select("redis-0[1]")] == []  # [1] is a subscript of redis-0


def test_limit_from_a_file(tmp_path: Path) -> None:
    retry = tmp_path / "failed.retry"
    retry.write_text("redis-03\nworker-02\n")
    inv = inventory("example")
    assert [h.name for h in inv.select(f"@{retry}")] == ["worker-02", "redis-03"]
    with pytest.raises(UsageError, match="limit file"):
        inv.select(f"@{tmp_path / 'missing.retry'}")


def test_an_invalid_regex_is_a_pattern_error() -> None:
    with pytest.raises(HostPatternError, match="invalid regex in host pattern '~redis\\('"):
        inventory("example").select("~redis(")


@pytest.mark.parametrize(
    "pattern",
    ["redis-0[1", "~[", "redis:&", "&", "!", "redis:!", "worker-01,redis-0[1", "redis]", "redis,&"],
)
def test_a_malformed_pattern_is_an_error_naming_it(pattern: str) -> None:
    """ansible-core drops the stray characters ('~[' becomes '~': every host); we refuse."""
    with pytest.raises(HostPatternError, match="host pattern") as raised:
        inventory("example").select(pattern)
    assert any(part in str(raised.value) for part in (pattern, *pattern.split(",")))
    with pytest.raises(HostPatternError):
        inventory("example").select(within=pattern)


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ("redis[01:03]", ["redis01", "redis02", "redis03"]),
        ("node[a:c]", ["nodea", "nodeb", "nodec"]),
        ("host[1:10:3]", ["host1", "host4", "host7", "host10"]),
        ("w[008:012:2].lan", ["w008.lan", "w010.lan", "w012.lan"]),
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
        ("db[:2]", ["db0", "db1", "db2"]),
        ("x[5:1]", []),  # Ansible: a descending number range is simply empty
        ("10.0.[1:2].5", ["10.0.1.5", "10.0.2.5"]),
        ("plain", ["plain"]),
    ],
)
def test_ranges_expand_like_ansible(entry: str, names: list[str]) -> None:
    assert expand_hostname_range(entry) == names


@pytest.mark.parametrize(
    "entry", ["web[1-3]", "web[01:5]", "web[c:a]", "web[1:]", "web[1:3", "web[x:1]", "web[1:3:0]"]
)
def test_malformed_ranges_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        expand_hostname_range(entry)


@pytest.mark.parametrize(
    ("entry", "result"),
    [
        ("web1:2222", (["web1"], 2222)),
        ("redis[01:02]:6380", (["redis01", "redis02"], 6380)),
        ("[::1]:2200", (["::1"], 2200)),
        ("fe80::1", (["fe80::1"], None)),
        ("192.0.2.7:22", (["192.0.2.7"], 22)),
        ("bad_:22", (["bad_:22"], None)),  # not a valid host name: taken whole, as Ansible does
    ],
)
def test_host_entries_with_ports(entry: str, result: tuple[list[str], int | None]) -> None:
    assert expand_host_entry(entry) == result


def test_parse_address_refuses_ranges_unless_allowed() -> None:
    assert parse_address("web[1:2]", allow_ranges=True) == ("web[1:2]", None)
    with pytest.raises(ValueError):
        parse_address("web[1:2]")


@pytest.mark.parametrize(
    ("pattern", "parts"),
    [
        ("a,b[1], c[2:3] , d", ["a", "b[1]", "c[2:3]", "d"]),
        ("redis:&prod:!redis-02", ["redis", "&prod", "!redis-02"]),
        ("redis[01:03]", ["redis[01:03]"]),
        ("web*:db[1:2]", ["web*", "db[1:2]"]),
        ("host:22", ["host:22"]),
        ("fe80::1", ["fe80::1"]),
        ("  ", []),
    ],
)
def test_split_host_pattern(pattern: str, parts: list[str]) -> None:
    assert split_host_pattern(pattern) == parts


def test_unions_then_intersections_then_exclusions() -> None:
    assert order_patterns(["!c", "a", "&b", "d"]) == ["a", "d", "&b", "!c"]
    assert order_patterns(["!c"]) == ["all", "!c"]


@pytest.mark.parametrize(
    ("subscript", "picked"),
    [
        ((0, None), ["a"]),
        ((-1, None), ["d"]),
        ((1, 2), ["b", "c"]),
        ((2, -1), ["c", "d"]),
        ((3, 0), ["d"]),  # Ansible reads [x:0] as [x]
        ((9, None), []),
        ((9, 12), []),
    ],
)
def test_subscripts(subscript: tuple[int, int | None], picked: list[str]) -> None:
    assert apply_subscript(["a", "b", "c", "d"], subscript) == picked
