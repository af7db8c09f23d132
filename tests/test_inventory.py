"""The inventory loader, checked against what real ansible-core prints.

Every directory under tests/fixtures/inventories/ with an ``args`` file is an
inventory; its expected-* files were produced by ansible-core 2.19 with
regenerate.sh (--list, --graph, --host).  Outputs are compared as parsed JSON,
graphs as text.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from remediate.errors import InventoryError, UsageError
from remediate.inventory.loader import Host, Inventory, load_inventory
from remediate.inventory.variables import UnsafeText, VaultValue

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inventories"
INVENTORIES = sorted(path for path in FIXTURES.iterdir() if (path / "args").is_file())
ERRORS = FIXTURES / "errors"


def sources(fixture: Path) -> list[str]:
    """The -i arguments of a fixture (host lists, with a comma, are passed as they are)."""
    return [
        arg if "," in arg else str(fixture / arg) for arg in (fixture / "args").read_text().split()
    ]


@cache
def inventory(name: str) -> Inventory:
    return load_inventory(sources(FIXTURES / name))


def as_json(data: Any) -> Any:
    """What the CLI prints, read back: JSON turns tuples into lists and keys into strings."""
    return json.loads(json.dumps(data))


def expected(fixture: Path, name: str) -> Any:
    return json.loads((fixture / name).read_text())


def by_name(paths: list[Path]) -> list[Any]:
    return [pytest.param(path, id=path.name) for path in paths]


def test_the_fixtures_cover_at_least_six_inventories() -> None:
    assert len(INVENTORIES) >= 6


@pytest.mark.parametrize("fixture", by_name(INVENTORIES))
def test_list_is_what_ansible_inventory_list_prints(fixture: Path) -> None:
    assert as_json(inventory(fixture.name).to_list_json()) == expected(
        fixture, "expected-list.json"
    )


@pytest.mark.parametrize("fixture", by_name(INVENTORIES))
def test_graph_is_what_ansible_inventory_graph_prints(fixture: Path) -> None:
    assert inventory(fixture.name).graph() + "\n" == (fixture / "expected-graph.txt").read_text()


GRAPHS = sorted(FIXTURES.glob("*/expected-graph-*.txt"))


@pytest.mark.parametrize("graph", by_name(GRAPHS))
def test_graph_of_one_group(graph: Path) -> None:
    group = graph.name.removeprefix("expected-graph-").removesuffix(".txt")
    assert inventory(graph.parent.name).graph(group) + "\n" == graph.read_text()


HOST_OUTPUTS = sorted(FIXTURES.glob("*/expected-host-*.json"))


@pytest.mark.parametrize(
    "output", [pytest.param(p, id=f"{p.parent.name}:{p.name}") for p in HOST_OUTPUTS]
)
def test_host_vars_are_what_ansible_inventory_host_prints(output: Path) -> None:
    name = output.name.removeprefix("expected-host-").removesuffix(".json")
    wanted = expected(output.parent, output.name)
    if wanted.get("ansible_python_interpreter", "").startswith("/tmp/ansible-venv"):
        wanted["ansible_python_interpreter"] = sys.executable  # the implicit localhost's python
    assert as_json(inventory(output.parent.name).host_vars(name)) == wanted


LIMITED_LISTS = sorted(FIXTURES.glob("*/expected-list-limited.json"))


@pytest.mark.parametrize("output", by_name(LIMITED_LISTS))
def test_list_with_limit_is_what_ansible_inventory_prints(output: Path) -> None:
    inv = inventory(output.parent.name)
    for pattern, wanted in expected(output.parent, output.name).items():
        assert as_json(inv.restrict(inv.select(pattern)).to_list_json()) == wanted, pattern


def test_precedence_of_every_level_for_one_variable() -> None:
    """x_N is defined at levels 1..N of Ansible's precedence; the highest level wins."""
    variables = inventory("precedence").hosts["h1"].vars
    winners = [variables[f"x_{n}"] for n in range(1, 9)]
    assert winners == [
        "all-inv",
        "parent-inv",
        "child-inv",
        "all-file",
        "parent-file",
        "child-file",
        "host-inv",
        "host-file",
    ]
    # Ansible's surprise: group_vars files beat every group of the inventory file.
    assert variables["child_inv_vs_all_file"] == "all-file"
    assert variables["child_inv_vs_parent_file"] == "parent-file"
    h2 = inventory("precedence").hosts["h2"].vars
    assert (h2["sibling"], h2["prioritised"], h2["deep"]) == ("gamma", "alpha", "bb")
    assert h2["depth_probe"] == "deepest"  # a group's depth is its longest path from 'all'


def test_group_vars_directories_and_first_match() -> None:
    inv = inventory("dir-mixed")
    web2, db1 = inv.hosts["web-2"].vars, inv.hosts["db-1"].vars
    assert web2["layer"] == "nested"  # web/ files in sorted order, subdirectories included
    assert web2["http_port"] == 80  # group_vars/web beats [web:vars]; sub/group_vars is not read
    assert db1["db_engine"] == "postgres"  # group_vars/db is found before group_vars/db.yml
    assert db1["db_role"] == "primary-json"  # host_vars/db-1/ files in sorted order
    assert "nobody" not in web2
    assert isinstance(web2["secret"], UnsafeText)


def test_directory_skips_what_ansible_skips_and_reads_subdirectories() -> None:
    inv = inventory("dir-mixed")
    assert "bogus" not in inv.groups
    assert not {"not-a-host", "bogus-retry"} & set(inv.hosts)
    assert "mon-1" in inv.hosts and "cache-1" in inv.groups["cache"].hosts


def test_ini_values_are_python_literals_where_they_can_be() -> None:
    worker = inventory("ini-ranges").hosts["worker1"].vars
    assert worker["celery_version"] == 5.4 and worker["concurrency"] == 8
    assert worker["queues"] == ["celery", "mail"]
    assert worker["retry"] is False and worker["nothing"] is None
    assert worker["mode"] == "0644"  # not an octal literal in Python 3
    assert worker["ansible_become"] == "true"  # not a Python literal: stays text
    assert worker["idle_timeout"] == "30  ; not a comment in a vars section"


def test_hosts_keep_ansible_definition_order_and_ranges() -> None:
    inv = inventory("ini-ranges")
    assert list(inv.hosts)[:6] == [
        "lonely.example.com",
        "redis03",
        "redis01",
        "redis02",
        "redis-extra",
        "rabbit-a.mq.lan",
    ]
    assert inv.groups["ungrouped"].hosts == ("lonely.example.com", "orphan")
    assert inv.groups["redis"].hosts[:3] == ("redis01", "redis02", "redis03")
    assert inv.groups["workers"].hosts[5:] == (
        "worker010",
        "worker012",
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    )


def test_host_in_several_groups_lists_all_of_them() -> None:
    host = inventory("yaml-deep").hosts["eu-worker-1"]
    assert host.groups == ("blue", "canary", "datacenter", "eu", "eu_workers")
    assert host.vars["tier"] == "canary"  # ansible_group_priority 10 beats blue and datacenter


def test_connection_properties_of_the_example_inventory() -> None:
    inv = inventory("example")
    redis = inv.hosts["redis-01"]
    assert (redis.address, redis.port, redis.user, redis.connection) == (
        "127.0.1.1",
        None,
        "root",
        "ssh",
    )
    assert (redis.become, redis.become_user, redis.root, redis.key_file) == (
        False,
        "root",
        "/",
        None,
    )
    example = inv.hosts["example"]
    assert (example.connection, example.root, example.address) == (
        "local",
        "examples/host",
        "example",
    )
    assert example.groups == ("brokers", "local", "rabbitmq", "redis", "workers")


def test_connection_properties_from_ini() -> None:
    inv = inventory("ini-ranges")
    extra, rabbit, worker = (
        inv.hosts["redis-extra"],
        inv.hosts["rabbit-b.mq.lan"],
        inv.hosts["worker3"],
    )
    assert (extra.address, extra.port, extra.user) == ("192.0.2.40", 2222, "deploy")
    assert (rabbit.port, rabbit.key_file) == (5722, "~/.ssh/mq_ed25519")
    assert (
        inv.hosts["redis02"].become is True and inv.hosts["redis02"].vars["ansible_become"] == "yes"
    )
    assert (worker.become, worker.become_user) == (True, "celery")
    assert inv.hosts["localhost"].connection == "local"
    assert inventory("yaml-deep").hosts["bastion"].port == 2022


@pytest.mark.parametrize(
    ("variables", "attribute", "fragment"),
    [
        ({"ansible_port": "ssh"}, "port", "not a TCP port"),
        ({"ansible_port": 70000}, "port", "not a TCP port"),
        ({"ansible_connection": "winrm"}, "connection", "not supported"),
        ({"ansible_become": "maybe"}, "become", "not a boolean"),
        ({"ansible_host": "{{ lookup('env', 'IP') }}"}, "address", "Jinja template"),
        ({"ansible_user": VaultValue("$ANSIBLE_VAULT;1.1;AES256\n6162")}, "user", "vault"),
    ],
)
def test_bad_connection_variables_fail_for_that_host(
    variables: dict[str, Any], attribute: str, fragment: str
) -> None:
    with pytest.raises(InventoryError, match=fragment) as caught:
        getattr(Host("db-9", variables), attribute)
    assert caught.value.host == "db-9"


@pytest.mark.parametrize(
    ("value", "become"),
    [
        ("yes", True),
        ("True", True),
        (1, True),
        ("on", True),
        ("no", False),
        ("0", False),
        (False, False),
    ],
)
def test_become_accepts_what_ansible_accepts(value: object, become: bool) -> None:
    assert Host("h", {"ansible_become": value}).become is become


def test_implicit_localhost_is_local_but_not_listed() -> None:
    inv = inventory("example")
    assert "localhost" not in inv.hosts and inv.select("localhost") == []
    (local,) = inv.select(within="localhost")
    assert local.implicit and local.connection == "local" and local.vars["ansible_user"] == "root"
    assert "localhost" not in json.dumps(inv.to_list_json())


def test_export_of_an_inventory_reads_back_as_itself() -> None:
    export = FIXTURES / "json-export" / "inventory" / "fleet.json"
    reread = load_inventory([export])
    assert as_json(reread.to_list_json()) == json.loads(export.read_text())
    assert isinstance(reread.hosts["bastion"].vars["motd"], UnsafeText)


def test_script_without_meta_is_asked_for_each_host() -> None:
    inv = inventory("script-nometa")
    assert inv.hosts["db-2"].vars == {"ansible_port": 5022, "lag_alert": 30}
    assert inv.hosts["db-3"].vars == {}
    assert inv.warnings == ("Found both group and host with same name: solo",)


def test_script_with_meta_gets_group_vars_beside_it() -> None:
    assert inventory("script-meta").hosts["redis-2"].vars["redis_maxclients"] == 10000


def test_yaml_file_holding_ini_is_read_as_ini_like_ansible_does(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("[web]\nweb1 port=1\n")
    (tmp_path / "empty.yml").write_text("")
    (tmp_path / "comments.ini").write_text("# only comments\n")
    (tmp_path / "warn.yml").write_text("web:\n  hosts:\n    web2:\n  bogus_key: {}\n")
    inv = load_inventory([tmp_path])
    assert inv.groups["web"].hosts == ("web1", "web2")
    assert inv.hosts["web1"].vars == {"port": 1}
    warning = (
        f"{tmp_path / 'warn.yml'}:4: Skipping unexpected key 'bogus_key' in group 'web'; "
        "only 'vars', 'children' and 'hosts' are valid."
    )
    assert inv.warnings == (warning,)


# Inputs ansible-core rejects too (regenerate.sh checks that); each error names file and line.
ERROR_CASES = [
    ("bad-yaml.yml", "bad-yaml.yml", 3, "Invalid YAML"),
    ("bad-range.ini", "bad-range.ini", 2, "[begin:end]"),
    ("range-width.ini", "range-width.ini", 2, "same number of digits"),
    ("range-descending.ini", "range-descending.ini", 2, "begin <= end"),
    ("cycle.ini", "cycle.ini", 4, "loop"),
    ("cycle.yml", "cycle.yml", 3, "loop"),
    ("self-child.ini", "self-child.ini", 3, "child of itself"),
    ("bad-host-line.ini", "bad-host-line.ini", 2, "key=value"),
    ("unclosed-quote.ini", "unclosed-quote.ini", 2, "No closing quotation"),
    ("bad-section.ini", "bad-section.ini", 1, "Invalid section"),
    ("unknown-section-type.ini", "unknown-section-type.ini", 1, "unknown type"),
    ("vars-without-equals.ini", "vars-without-equals.ini", 2, "key=value"),
    ("undefined-child.ini", "undefined-child.ini", 2, "'missing', which is not defined"),
    ("undefined-vars-group.ini", "undefined-vars-group.ini", 1, "not defined"),
    ("bad-priority.ini", "bad-priority.ini", 4, "must be an integer"),
    ("host-vars-not-mapping.yml", "host-vars-not-mapping.yml", 3, "must be a mapping"),
    ("hosts-as-list.yml", "hosts-as-list.yml", 2, "'hosts' of group 'web' must be a mapping"),
    ("host-not-string.yml", "host-not-string.yml", 3, "must be a string"),
    ("noext-bad-ini", "noext-bad-ini", 3, "key=value"),
    ("yaml-in-ini.ini", "yaml-in-ini.ini", 1, "looks like a YAML file"),
    ("meta-without-hostvars.json", "meta-without-hostvars.json", None, "'hostvars'"),
    ("failing-script.py", "failing-script.py", None, "exited with 3; its stderr: cannot reach"),
    ("aws_ec2.yml", "aws_ec2.yml", None, "ansible-inventory -i"),
    ("group-vars-list", "group-vars-list/group_vars/web.yml", 1, "must hold a mapping"),
    ("host-vars-bad-yaml", "host-vars-bad-yaml/host_vars/web1.yml", 3, "Invalid YAML"),
]


def test_every_error_input_has_a_case() -> None:
    assert sorted(case[0] for case in ERROR_CASES) == sorted(p.name for p in ERRORS.iterdir())


@pytest.mark.parametrize(
    ("source", "path", "line", "fragment"), ERROR_CASES, ids=[case[0] for case in ERROR_CASES]
)
def test_malformed_inventory_is_one_error_naming_file_and_line(
    source: str, path: str, line: int | None, fragment: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory([ERRORS / source])
    error = caught.value
    assert (error.path, error.line) == (str(ERRORS / path), line)
    assert fragment in error.message
    assert str(error).startswith(f"{ERRORS / path}:{line}: " if line else f"{ERRORS / path}: ")


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "inventory.py"
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


def test_script_that_prints_no_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not valid JSON"):
        load_inventory([script(tmp_path, "print('web1 web2')")])


def test_script_that_hangs_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="did not finish '--list' within 0.5 s"):
        load_inventory([script(tmp_path, "import time; time.sleep(30)")], script_timeout=0.5)


def test_missing_source_and_unknown_names_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        load_inventory([tmp_path / "nowhere.ini"])
    with pytest.raises(UsageError):
        inventory("example").host_vars("nobody")
    with pytest.raises(UsageError):
        inventory("example").graph("nogroup")


@pytest.mark.parametrize("option", ["--list", "--graph"])
def test_a_limit_that_matches_no_host_is_an_error_naming_it(option: str) -> None:
    from tests.conftest import run_cli

    source = Path(__file__).resolve().parents[1] / "inventory"
    result = run_cli("inventory", "-i", str(source), option, "-l", "nosuch")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "'nosuch'" in result.stderr and result.stdout == ""
