"""`remediate plan` against the real SSH fleet with live redis-server (issue 5's "done when")."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import PASSWORD, RABBIT_PASSWORD, drift, redis_client, write_project


@pytest.fixture
def project(fleet: Fleet, tmp_path: Path) -> Path:
    drift(fleet)
    return write_project(fleet, tmp_path)


def plan(project: Path, fleet: Fleet, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("plan", *args, env=fleet.env(), cwd=project)


def changes_of(host: dict, path: str) -> dict[str, tuple[str, str, str]]:
    files = {f["path"]: f for f in host["files"]}
    return {c["setting"]: (c["old"], c["new"], c["effect"]) for c in files[path]["changes"]}


def test_drifted_fleet_plans_the_seed_fix_and_hides_secrets(project: Path, fleet: Fleet) -> None:
    out = project / "plan.json"
    text = run_cli("--debug", "plan", "--detailed-exitcode", env=fleet.env(), cwd=project)
    result = plan(project, fleet, "--detailed-exitcode", "--format", "json", "--out", str(out))
    assert result.returncode == 2, result.stdout[-3000:]
    assert text.returncode == 2, text.stdout[-3000:]
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1 and doc["recap"]["changed"] == len(fleet.hosts)
    assert [h["host"] for h in doc["hosts"]] == [h.name for h in fleet.hosts]
    for host in doc["hosts"]:
        redis_changes = changes_of(host, "/etc/redis/redis.conf")
        assert redis_changes == {
            "timeout": ("300", "0", "live"),
            "tcp-keepalive": ("0", "60", "live"),
        }
        assert changes_of(host, "/etc/rabbitmq/rabbitmq.conf") == {
            "heartbeat": ("580", "60", "restart")
        }
        dropin = changes_of(host, "/etc/systemd/system/rabbitmq-server.service.d/limits.conf")
        assert next(iter(dropin.values()))[1] == "65536"
        celery = changes_of(host, "/srv/app/celeryconfig.py")
        assert celery["broker_connection_retry"][:2] == ("False", "True")
        # a Redis broker: no AMQP heartbeat added, the file's no-op one removed (CEL004)
        assert celery["broker_heartbeat"][:2] == ("10", "(unset)")
        assert celery["broker_connection_retry_delay"][:2] == ("5", "(unset)")  # CEL001
        assert any("socket_keepalive" in name for name in celery)
        # the live values were read through SSH: runtime changes and the facts say 300 / 0
        runtime = {(r["setting"], r["live"], r["desired"]) for r in host["runtime_changes"]}
        assert runtime == {("timeout", "300", "0"), ("tcp-keepalive", "0", "60")}
        assert host["facts"]["redis"]["running"] and host["facts"]["redis"]["ping"]
        assert (
            "-timeout 300\n+timeout 0\n"
            in {f["path"]: f for f in host["files"]}["/etc/redis/redis.conf"]["diff"]
        )
    assert (
        "timeout        300 → 0" in text.stdout
        or "timeout  300 → 0" in text.stdout
        or "300 → 0" in text.stdout
    )
    assert "DEBUG" in text.stderr  # the debug log was on, and it holds no secret either
    for blob in (text.stdout, text.stderr, result.stdout, result.stderr, out.read_text()):
        assert PASSWORD not in blob and RABBIT_PASSWORD not in blob
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_compliant_fleet_exits_0_without_diff(project: Path, fleet: Fleet) -> None:
    first = run_cli("apply", "--yes", env=fleet.env(), cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    result = plan(project, fleet, "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "@@" not in result.stdout and "→" not in result.stdout
    for host in fleet.hosts:
        assert redis_client(host).config_get("timeout") == {"timeout": "0"}


def test_a_stopped_host_gives_exit_4_and_the_rest_are_planned(project: Path, fleet: Fleet) -> None:
    victim = fleet.hosts[1]
    victim.stop_sshd()
    try:
        result = plan(project, fleet, "--format", "json")
    finally:
        fleet.restart(victim)
    assert result.returncode == 4, result.stderr
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts[victim.name]["status"] == "unreachable" and hosts[victim.name]["unreachable"]
    assert all(h["status"] == "changed" for name, h in hosts.items() if name != victim.name)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("host1", ["host1"]),
        ("host1:host3", ["host1", "host3"]),
        ("fleet:!host2", ["host1", "host3", "host4"]),
        ("host*:&redis:!host4", ["host1", "host2", "host3"]),
        ("~host[23]", ["host2", "host3"]),
    ],
)
def test_limit_selects_hosts(
    project: Path, fleet: Fleet, pattern: str, expected: list[str]
) -> None:
    result = plan(project, fleet, "--format", "json", "--summary", "-l", pattern)
    assert [h["host"] for h in json.loads(result.stdout)["hosts"]] == expected


class Listener:
    """A TCP port that records whether anything connected (to prove no host was contacted)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("playbook_unknown_key", "site.yml:3: unknown play key 'hostz'"),
        ("playbook_missing_handler", "no such handler"),
        ("template_undefined", "redis.conf.j2:3: undefined variable"),
        ("template_syntax", "redis.conf.j2:2: template syntax error"),
        ("inventory_bad_range", "hosts.ini:2:"),
    ],
)
def test_broken_inputs_give_one_error_and_contact_no_host(
    tmp_path: Path, breakage: str, message: str, fleet: Fleet
) -> None:
    listener = Listener()
    try:
        project = write_project(fleet, tmp_path)
        (project / "inventory" / "hosts.ini").write_text(
            f"[redis]\nr1 ansible_host=127.0.0.1 ansible_port={listener.port}\n[rabbitmq]\n[workers]\n"
        )
        play = project / "playbooks" / "site.yml"
        template = project / "templates" / "redis.conf.j2"
        if breakage == "playbook_unknown_key":
            play.write_text("- name: x\n  hosts: redis\n  hostz: 1\n")
        elif breakage == "playbook_missing_handler":
            play.write_text(
                play.read_text().replace("notify: restart redis ", "notify: reboot everything ")
            )
        elif breakage == "template_undefined":
            template.write_text("# managed\ntimeout 0\ntcp-keepalive {{ no_such_variable }}\n")
        elif breakage == "template_syntax":
            template.write_text("# managed\ntimeout {{ redis_timeout \n")
        else:
            (project / "inventory" / "hosts.ini").write_text(
                f"[redis]\nr[1:x] ansible_port={listener.port}\n"
            )
        result = run_cli("plan", env=fleet.env(), cwd=project)
    finally:
        listener.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert listener.connections == 0


def test_facts_show_live_values_limits_and_health(project: Path, fleet: Fleet) -> None:
    result = run_cli("facts", "--format", "json", env=fleet.env(), cwd=project)
    assert result.returncode == 0, result.stderr
    text = run_cli("facts", env=fleet.env(), cwd=project)
    for host, spec in zip(json.loads(result.stdout)["hosts"], fleet.hosts):
        assert host["files"]["/etc/redis/redis.conf"]["settings"] == {
            "timeout": "300",
            "tcp-keepalive": "0",
        }
        assert host["files"]["/etc/redis/redis.conf"]["mode"] == "0640"
        redis = host["runtime"]["redis"]
        assert redis["running"] and redis["ping"] and redis["pid"] == spec.redis_pid()
        assert redis["config"]["timeout"] == "300" and redis["maxclients"] == 10000
        limits = (spec.proc(spec.redis_pid()) / "limits").read_text()
        hard = next(
            line.split()[4] for line in limits.splitlines() if line.startswith("Max open files")
        )
        assert str(redis["nofile_hard"]) == hard
        assert host["runtime"]["rabbitmq"]["running"] is False
    assert "PING ok" in text.stdout
    for blob in (result.stdout, text.stdout, text.stderr):
        assert PASSWORD not in blob and RABBIT_PASSWORD not in blob
