"""Ansible habits without hosts: SSH arguments, ansible.cfg, -e, serial: batches, health verdicts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediate.engine.handlers import rabbitmq_outcome
from remediate.errors import InventoryError, ParseError, PlaybookError, UsageError
from remediate.inventory.ansible_cfg import find_config, load_ansible_config
from remediate.inventory.loader import Host
from remediate.inventory.overrides import parse_extra_vars
from remediate.playbook.schema import load_playbook
from remediate.playbook.serial import play_batches, serial_sizes
from remediate.remote.connection import become_password, shell_command
from remediate.remote.runtime import replica_link_problem
from remediate.remote.ssh_args import (
    UnsupportedSshOption,
    jump_hops,
    parse_ssh_args,
    proxy_command_argv,
)
from remediate.remote.ssh_route import route_of


# -- SSH arguments ---------------------------------------------------------------------------
def test_ssh_args_read_every_spelling_and_first_value_wins() -> None:
    options = parse_ssh_args(
        "-C -o ControlMaster=auto -o ControlPersist=60s -o ProxyJump=root@jump "
        "-o 'User bob' -oPort=2200 -p 2300 -i /k1 -o IdentityFile=/k2 -l alice "
        "-o ConnectTimeout=7 -o ServerAliveInterval=15 -o StrictHostKeyChecking=accept-new "
        "-o UserKnownHostsFile=/kh"
    )
    assert options.proxy_jump == "root@jump"
    assert options.user == "bob" and options.port == 2200  # ssh: the first value obtained wins
    assert options.identity_files == ("/k1", "/k2")
    assert options.connect_timeout == 7 and options.server_alive_interval == 15
    assert options.strict_host_key_checking == "accept-new" and options.known_hosts == "/kh"
    assert parse_ssh_args("-J ops@bastion:2222").proxy_jump == "ops@bastion:2222"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("-o LocalForward=8080:localhost:80", "localforward"),
        ("-o ProxyJump=j -o DynamicForward=1080", "dynamicforward"),
        ("-F /etc/other_config", "-F"),
        ("-o StrictHostKeyChecking=ask", "StrictHostKeyChecking"),
        ("-o Port=http", "port"),
        ("-L 80:x:80", "-L"),
        ("bastion", "'bastion'"),
    ],
)
def test_an_option_that_cannot_be_honoured_is_named(text: str, named: str) -> None:
    with pytest.raises(UnsupportedSshOption, match=named):
        parse_ssh_args(text, "ansible_ssh_common_args")


def test_jump_hops_and_proxy_command_argv() -> None:
    assert [(h.user, h.host, h.port) for h in jump_hops("a@j1:2201,j2,ssh://b@[::1]:22")] == [
        ("a", "j1", 2201),
        (None, "j2", None),
        ("b", "::1", 22),
    ]
    argv = proxy_command_argv("ssh -W '%h:%p' -l %r 'jump host;rm -rf /'", "10.0.0.5", 22, "root")
    assert argv == ["ssh", "-W", "10.0.0.5:22", "-l", "root", "jump host;rm -rf /"]
    with pytest.raises(UnsupportedSshOption, match="%C"):
        proxy_command_argv("nc %C", "h", 22, "u")


def _host(**variables: object) -> Host:
    return Host("web1", {"ansible_host": "10.0.0.9", **variables})


def test_route_merges_in_ansibles_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    host = _host(
        ansible_ssh_args="-o Port=2000",  # ansible.cfg's ssh_args come first and win
        ansible_port=2222,
        ansible_user="deploy",
        ansible_ssh_common_args="-o User=other -o ProxyJump=ops@bastion:2201",
        ansible_ssh_extra_args="-o ServerAliveInterval=30",
        ansible_password="pw",
    )
    route = route_of(host, 10.0, False, None)
    assert (route.port, route.user, route.keepalive, route.password) == (2000, "deploy", 30, "pw")
    assert [(h.user, h.host, h.port) for h in route.jump] == [("ops", "bastion", 2201)]
    assert route.endpoint == "10.0.0.9:2000 via bastion" and not route.accept_new
    assert route_of(_host(ansible_host_key_checking="False"), 10.0, False, None).accept_new
    with pytest.raises(InventoryError, match="localforward") as caught:
        route_of(_host(ansible_ssh_extra_args="-o LocalForward=1:h:1"), 10.0, False, None)
    assert caught.value.host == "web1"


def test_become_password_goes_to_stdin_never_the_command_line() -> None:
    host = _host(ansible_become=True, ansible_become_password="s3cr3t-pw")
    secret = become_password(host)
    command = shell_command(["cat", "/etc/shadow"], become=True, password=bool(secret))
    assert secret == b"s3cr3t-pw\n" and "s3cr3t-pw" not in command
    assert "sudo -k -S -p ''" in command and "IFS= read -r _" in command
    assert shell_command(["id"], become=True) == "sudo -n -u root -- id"
    with pytest.raises(InventoryError, match="'su' is not supported"):
        become_password(_host(ansible_become=True, ansible_become_method="su"))
    assert become_password(_host(ansible_become_method="su")) == b""  # not becoming: fine


# -- ansible.cfg -----------------------------------------------------------------------------
def test_ansible_cfg_is_found_as_ansible_finds_it(tmp_path: Path) -> None:
    home, cwd, other = tmp_path / "home", tmp_path / "cwd", tmp_path / "other"
    for d in (home, cwd, other):
        d.mkdir()
    (home / ".ansible.cfg").write_text("[defaults]\nforks = 3\n")
    assert find_config({}, cwd, home) == home / ".ansible.cfg"
    (cwd / "ansible.cfg").write_text("[defaults]\nforks = 4\n")
    assert find_config({}, cwd, home) == cwd / "ansible.cfg"
    (other / "ansible.cfg").write_text("[defaults]\nforks = 5\n")
    assert find_config({"ANSIBLE_CONFIG": str(other)}, cwd, home) == other / "ansible.cfg"
    os.chmod(cwd, 0o777)  # a world-writable current directory is not trusted
    try:
        assert find_config({}, cwd, home) == home / ".ansible.cfg"
    finally:
        os.chmod(cwd, 0o755)


def test_ansible_cfg_values_env_over_file_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\ninventory = inv/hosts.ini, /abs/other\nremote_user = deploy ; who\n"
        "private_key_file = keys/id\nforks = 7\ntimeout = 20\nhost_key_checking = False\n"
        "vault_password_file = ~/.vault_pass\n"
        "[privilege_escalation]\nbecome = true\nbecome_user = app\n"
        "[ssh_connection]\nssh_args = -C -o ControlMaster=auto -o ControlPersist=60s\n"
        "[remediate]\nplaybook = plays/site.yml\n"
    )
    cfg = load_ansible_config({}, tmp_path, tmp_path)
    assert cfg.inventory == (tmp_path / "inv/hosts.ini", Path("/abs/other"))
    assert (cfg.remote_user, cfg.private_key_file) == ("deploy", str(tmp_path / "keys/id"))
    assert (cfg.forks, cfg.timeout, cfg.host_key_checking) == (7, 20.0, False)
    assert cfg.become and cfg.become_user == "app" and cfg.ssh_args.startswith("-C")
    assert cfg.remediate == {"playbook": tmp_path / "plays/site.yml"}
    env = {"ANSIBLE_FORKS": "9", "ANSIBLE_REMOTE_USER": "ops", "ANSIBLE_INVENTORY": "a,b"}
    over = load_ansible_config(env, tmp_path, tmp_path)
    assert (over.forks, over.remote_user) == (9, "ops")
    assert over.inventory == (tmp_path / "a", tmp_path / "b")


def test_bad_ansible_cfg_is_one_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\nforks = many\n")
    with pytest.raises(ParseError, match="forks") as caught:
        load_ansible_config({}, tmp_path, tmp_path)
    assert caught.value.path == str(tmp_path / "ansible.cfg")
    (tmp_path / "ansible.cfg").write_text("[remediate]\nplaybok = x\n")
    with pytest.raises(ParseError, match="playbok"):
        load_ansible_config({}, tmp_path, tmp_path)


# -- -e ----------------------------------------------------------------------------------------
def test_extra_vars_forms_merge_left_to_right(tmp_path: Path) -> None:
    (tmp_path / "more.yml").write_text("redis_timeout: 5\nnested: {a: 1}\n")
    merged = parse_extra_vars(
        ["redis_tcp_keepalive=30 name='two words'", f"@{tmp_path / 'more.yml'}", '{"x": [1, 2]}']
    )
    assert merged == {
        "redis_tcp_keepalive": "30",
        "name": "two words",
        "redis_timeout": 5,
        "nested": {"a": 1},
        "x": [1, 2],
    }
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_extra_vars(["justaword"])
    with pytest.raises(UsageError, match="no such file"):
        parse_extra_vars(["@/nonexistent.yml"])


# -- serial: -------------------------------------------------------------------------------------
def test_serial_sizes_as_ansible() -> None:
    assert serial_sizes(("1",), 3) == [1, 1, 1]
    assert serial_sizes(("30%",), 10) == [3, 3, 3, 1]
    assert serial_sizes(("10%",), 5) == [1, 1, 1, 1, 1]  # rounded down, at least 1
    assert serial_sizes(("1", "2", "50%"), 10) == [1, 2, 5, 2]


@dataclass(frozen=True)
class _H:
    name: str


@dataclass(frozen=True)
class _T:
    host: _H


@dataclass(frozen=True)
class _Play:
    name: str
    serial: tuple[str, ...] = ()
    max_fail_percentage: float | None = None


def test_play_batches_put_a_host_in_its_first_serial_play() -> None:
    hosts = [_H(f"h{i}") for i in range(1, 5)]
    targets = [_T(h) for h in hosts]
    redis, rabbit = _Play("redis"), _Play("rabbit", ("1",))
    batches = play_batches(targets, [(redis, hosts), (rabbit, hosts[1:])])
    assert [[t.host.name for t in b.targets] for b in batches] == [["h1"], ["h2"], ["h3"], ["h4"]]
    assert batches[1].stop_when_all_fail and batches[1].stops_run(1)
    assert not batches[0].stop_when_all_fail  # h1 is only in the play without serial:
    limited = play_batches(targets, [(_Play("p", ("2",), 0), hosts)])
    assert limited[0].stops_run(1) and not limited[0].stops_run(0)
    assert len(play_batches(targets, [(redis, hosts)])) == 1  # no serial anywhere: one batch


def test_playbook_serial_is_checked(tmp_path: Path) -> None:
    book = tmp_path / "site.yml"
    book.write_text("- hosts: rabbitmq\n  serial: [1, '50%']\n  max_fail_percentage: 10\n")
    play = load_playbook(book).plays[0]
    assert play.serial == ("1", "50%") and play.max_fail_percentage == 10
    book.write_text("- hosts: rabbitmq\n  serial: 0\n")
    with pytest.raises(PlaybookError, match="serial") as caught:
        load_playbook(book)
    assert caught.value.line == 2


# -- health verdicts ------------------------------------------------------------------------------
def test_rabbitmq_running_needs_the_cluster_back_and_no_alarms() -> None:
    joined = (
        b'{"disk_nodes": ["rabbit@a", "rabbit@b"], "ram_nodes": [], '
        b'"running_nodes": ["rabbit@a", "rabbit@b"], "partitions": {}}'
    )
    assert rabbitmq_outcome(0, joined)[0]
    alone = joined.replace(
        b'"running_nodes": ["rabbit@a", "rabbit@b"]', b'"running_nodes": ["rabbit@a"]'
    )
    ok, detail = rabbitmq_outcome(0, alone)
    assert not ok and "rabbit@b" in detail
    assert rabbitmq_outcome(2, b"")[1].endswith("local alarms (check_local_alarms)")
    assert not rabbitmq_outcome(1, b"")[0] and not rabbitmq_outcome(0, b"garbage")[0]


def test_replica_link_must_be_up() -> None:
    assert replica_link_problem("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n") is None
    assert replica_link_problem("role:slave\nmaster_host:10.0.0.1\nmaster_link_status:up\n") is None
    problem = replica_link_problem(
        "role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:down\n"
    )
    assert problem == "replica of 10.0.0.1:6379: master_link_status is down, not up"
