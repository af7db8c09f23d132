"""Real Ansible fleets on the real SSH fleet: a bastion (ProxyJump), ansible.cfg and the usual
flags, -e, become with a sudo password, per-play serial: with a failing health check, and a
docker host among SSH hosts."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import run_cli
from tests.fleet import Fleet, FleetHost
from tests.scenario import ROOT

JUMP_UID = 4242
REDIS_PLAY = """- name: redis
  hosts: redis
  defaults: {redis_timeout: 0, redis_tcp_keepalive: 60}
  files:
    - {kind: redis, path: /etc/redis/redis.conf, template: redis.conf.j2, live: false}
"""


def project(tmp_path: Path, inventory: str, playbook: str = REDIS_PLAY) -> Path:
    (tmp_path / "inventory").mkdir(parents=True, exist_ok=True)
    (tmp_path / "inventory" / "hosts.ini").write_text(inventory)
    shutil.copytree(ROOT / "templates", tmp_path / "templates", dirs_exist_ok=True)
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "site.yml").write_text(playbook)
    return tmp_path


def line(fleet: Fleet, host: FleetHost, extra: str = "", user: str = "root") -> str:
    return (
        f"{host.name} ansible_host={host.address} ansible_user={user} "
        f"ansible_ssh_private_key_file={fleet.client_key} {extra}"
    ).strip()


def hosts_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    doc = json.loads(result.stdout)
    return {h["host"]: h for h in doc["hosts"]}


@contextmanager
def private_accounts(
    host: FleetHost, name: str, uid: int, password_hash: str = "*"
) -> Iterator[Path]:
    """A login user that exists only inside ``host`` (private passwd, shadow, group and
    sudoers.d bind-mounted in its namespace); its home is /srv/<name>. Yields the home."""
    private = host.dir / f"accounts-{name}"
    private.mkdir(exist_ok=True)
    for path in ("/etc/passwd", "/etc/shadow", "/etc/group"):
        shutil.copy2(path, private / Path(path).name)
    with (private / "passwd").open("a") as f:
        f.write(f"{name}:x:{uid}:{uid}::/srv/{name}:/bin/sh\n")
    with (private / "shadow").open("a") as f:
        f.write(f"{name}:{password_hash}:19000:0:99999:7:::\n")
    with (private / "group").open("a") as f:
        f.write(f"{name}:x:{uid}:\n")
    sudoers = private / "sudoers.d"
    shutil.copytree("/etc/sudoers.d", sudoers, dirs_exist_ok=True)
    home = host.path(f"/srv/{name}")
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "authorized_keys").write_bytes(
        (Path(host.dir).parent / "client" / ".ssh" / "id_ed25519.pub").read_bytes()
    )
    for each in (home, home / ".ssh", home / ".ssh" / "authorized_keys"):
        shutil.chown(each, uid, uid)
    mounts = ["passwd", "shadow", "group", "sudoers.d"]
    for entry in mounts:
        target = "/etc/sudoers.d" if entry == "sudoers.d" else f"/etc/{entry}"
        host.exec(["mount", "--bind", str(private / entry), target])
    try:
        yield private
    finally:
        for entry in mounts:
            target = "/etc/sudoers.d" if entry == "sudoers.d" else f"/etc/{entry}"
            host.exec(["umount", target], check=False)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


@contextmanager
def only_reachable_by(uid: int, host: FleetHost) -> Iterator[None]:
    """TCP to ``host``'s sshd is refused for every process but those of ``uid`` (the jump host's
    login user, whose sshd session opens the forwarded connection): the controller, running as
    root, cannot reach it directly."""
    rule = [
        "OUTPUT", "-d", f"{host.address}/32", "-p", "tcp", "--dport", "22",
        "-m", "owner", "!", "--uid-owner", str(uid),
        "-j", "REJECT", "--reject-with", "tcp-reset",
    ]  # fmt: skip
    subprocess.run(["iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=False)


def test_a_host_behind_a_bastion_is_planned_through_it(fleet: Fleet, tmp_path: Path) -> None:
    jump, target, other, spare = fleet.hosts
    proxy = f"-o ProxyJump=jumper@{jump.address}"
    inventory = "\n".join(
        [
            "[redis]",
            line(fleet, target, f"ansible_ssh_common_args='{proxy}'"),
            line(fleet, spare, f"ansible_ssh_common_args='{proxy} -o LocalForward=8080:x:80'"),
            line(fleet, other),
            "box ansible_connection=winrm",  # docker is supported now: a type that is not
            (
                f"{target.name}-pc ansible_host={target.address} ansible_user=root "
                f"ansible_ssh_private_key_file={fleet.client_key} "
                f"ansible_ssh_common_args='-o ProxyCommand=\"ssh -q -o BatchMode=yes "
                f"-i {fleet.client_key} -o UserKnownHostsFile={fleet.known_hosts} "
                f"-W %h:%p jumper@{jump.address}\"'"
            ),
            "",
        ]
    )
    direct = "\n".join(["[redis]", line(fleet, target), ""])
    with private_accounts(jump, "jumper", JUMP_UID), only_reachable_by(JUMP_UID, target):
        refused = run_cli(
            "plan", "--format", "json", env=fleet.env(), cwd=project(tmp_path / "d", direct)
        )
        result = run_cli(
            "plan", "--format", "json", env=fleet.env(), cwd=project(tmp_path / "j", inventory)
        )
        listed = run_cli("plan", "--list-hosts", env=fleet.env(), cwd=tmp_path / "j")
    # without the jump host the target cannot be reached at all (the rule works)
    assert hosts_of(refused)[target.name]["status"] == "unreachable", refused.stdout
    hosts = hosts_of(result)
    assert hosts[target.name]["status"] in ("changed", "ok"), hosts[target.name]
    assert hosts[target.name]["facts"]["redis"]["running"]  # read through the jump host
    assert hosts[other.name]["status"] in ("changed", "ok")
    assert hosts[spare.name]["status"] == "failed"
    assert "localforward" in hosts[spare.name]["failed"].lower()
    assert hosts["box"]["status"] == "failed" and "winrm" in hosts["box"]["failed"]
    proxied = hosts[f"{target.name}-pc"]  # the same refusing host, through a ProxyCommand
    assert proxied["status"] in ("changed", "ok"), proxied
    assert result.returncode == 1
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("hosts (5):")[1].split() == [
        target.name,
        spare.name,
        other.name,
        "box",
        f"{target.name}-pc",
    ]


def test_a_changed_jump_host_key_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    jump, target = fleet.hosts[0], fleet.hosts[1]
    known = tmp_path / "known_hosts"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    bogus = (tmp_path / "k.pub").read_text().split()[:2]
    lines = fleet.known_hosts.read_text().splitlines()
    kept = [x for x in lines if not x.startswith(f"{jump.address} ")]
    known.write_text("\n".join([*kept, f"{jump.address} {' '.join(bogus)}", ""]))
    extra = (
        f"ansible_ssh_common_args='-o ProxyJump=root@{jump.address} -o UserKnownHostsFile={known}'"
    )
    inventory = "\n".join(["[redis]", line(fleet, target, extra), ""])
    result = run_cli("plan", "--format", "json", env=fleet.env(), cwd=project(tmp_path, inventory))
    host = hosts_of(result)[target.name]
    assert host["status"] == "unreachable"
    assert f"jump host {jump.address}" in host["unreachable"] and "CHANGED" in host["unreachable"]


def test_ansible_cfg_is_honoured_and_flags_override_it(fleet: Fleet, tmp_path: Path) -> None:
    a, b = fleet.hosts[2], fleet.hosts[3]
    bare = "\n".join(["[redis]", *(f"{h.name} ansible_host={h.address}" for h in (a, b)), ""])
    work = project(tmp_path, "[redis]\n")  # ./inventory is empty: ansible.cfg names the real one
    (work / "fleet").mkdir()
    (work / "fleet" / "hosts.ini").write_text(bare)
    (work / "ansible.cfg").write_text(
        "[defaults]\ninventory = fleet/hosts.ini\nremote_user = root\n"
        f"private_key_file = {fleet.client_key}\nforks = 1\n"
    )
    env = fleet.env()  # a HOME without a default key: only the configured one can log in
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    shutil.copy(fleet.known_hosts, tmp_path / "home" / ".ssh" / "known_hosts")
    honoured = run_cli("plan", "--format", "json", env=env, cwd=work)
    assert {h["status"] for h in hosts_of(honoured).values()} <= {"changed", "ok"}, honoured.stdout
    assert set(hosts_of(honoured)) == {a.name, b.name}
    # flags win: another user (refused), another key (refused), another inventory
    as_nobody = hosts_of(run_cli("plan", "--format", "json", "-u", "nobody", env=env, cwd=work))
    assert "authentication failed for user nobody" in as_nobody[a.name]["unreachable"]
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True
    )
    wrong_key = hosts_of(
        run_cli("plan", "--format", "json", "--private-key", str(other_key), env=env, cwd=work)
    )
    assert "authentication failed" in wrong_key[a.name]["unreachable"]
    only_b = "\n".join(["[redis]", line(fleet, b), ""])
    (work / "only_b.ini").write_text(only_b)
    by_flag = run_cli("plan", "--format", "json", "-i", "only_b.ini", "-f", "2", env=env, cwd=work)
    assert set(hosts_of(by_flag)) == {b.name}
    # -e is above everything, play defaults included: the planned value changes
    keepalive = run_cli(
        "plan", "--format", "json", "-e", "redis_tcp_keepalive=30", env=env, cwd=work
    )
    assert hosts_of(keepalive), keepalive.stderr
    for host in hosts_of(keepalive).values():
        redis = next(f for f in host["files"] if f["path"] == "/etc/redis/redis.conf")
        assert any(c["setting"] == "tcp-keepalive" and c["new"] == "30" for c in redis["changes"])


def test_become_with_a_sudo_password_never_shows_it(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet.hosts[2]
    secret = "Sudo-pw-4-ops-only"
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", secret], capture_output=True, text=True, check=True
    ).stdout.strip()
    conf = host.path("/etc/redis/redis.conf")
    original = conf.read_bytes()
    extra = f"ansible_become=true ansible_become_password={secret}"
    inventory = "\n".join(["[redis]", line(fleet, host, extra, user="ops"), ""])
    work = project(tmp_path, inventory)
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    seen.add((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
                except (OSError, UnicodeDecodeError):
                    pass

    with private_accounts(host, "ops", 4343, hashed) as private:
        (private / "sudoers.d" / "ops").write_text("ops ALL=(ALL:ALL) ALL\n")
        (private / "sudoers.d" / "ops").chmod(0o440)
        no_password = project(
            tmp_path / "np", "\n".join(["[redis]", line(fleet, host, "ansible_become=true", "ops")])
        )
        refused = run_cli("plan", "--format", "json", env=fleet.env(), cwd=no_password)
        # ansible_password: password authentication, with no key anywhere to fall back on
        keyless = fleet.env()
        keyless["HOME"] = str(tmp_path / "home")
        (tmp_path / "home" / ".ssh").mkdir(parents=True)
        shutil.copy(fleet.known_hosts, tmp_path / "home" / ".ssh" / "known_hosts")
        by_password = project(
            tmp_path / "pw",
            f"[redis]\n{host.name} ansible_host={host.address} ansible_user=ops "
            f"ansible_password={secret} ansible_become=true ansible_become_password={secret}\n",
        )
        logged_in = run_cli("plan", "--format", "json", env=keyless, cwd=by_password)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            applied = run_cli(
                "apply", "--yes", "-e", "redis_tcp_keepalive=31", env=fleet.env(), cwd=work
            )
        finally:
            stop.set()
            watcher.join()
        try:
            changed = conf.read_text()
        finally:
            conf.write_bytes(original)
    assert hosts_of(refused)[host.name]["status"] == "failed"  # sudo -n: a password is required
    assert hosts_of(logged_in)[host.name]["status"] in ("changed", "ok"), logged_in.stdout
    assert secret not in logged_in.stdout + logged_in.stderr
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "tcp-keepalive 31" in changed
    assert any("sudo -k -S" in c for c in seen)  # the watcher saw the sudo commands run
    assert not any(secret in c for c in seen)
    assert secret not in applied.stdout + applied.stderr
    assert secret not in refused.stdout + refused.stderr


def test_serial_1_stops_before_the_third_host_after_a_failed_check(
    fleet: Fleet, tmp_path: Path
) -> None:
    hosts = fleet.hosts[1:4]
    flag = "/srv/fail-check"
    playbook = """- name: redis one at a time
  hosts: redis
  serial: 1
  defaults: {redis_timeout: 0, redis_tcp_keepalive: 60}
  files:
    - {kind: redis, path: /etc/redis/redis.conf, template: redis.conf.j2, live: false,
       notify: reload}
  handlers:
    reload: {command: "true", check: "test ! -e /srv/fail-check"}
"""
    originals = {h.name: h.path("/etc/redis/redis.conf").read_bytes() for h in hosts}
    inventory = "\n".join(["[redis]", *(line(fleet, h) for h in hosts), ""])
    work = project(tmp_path, inventory, playbook)
    hosts[1].path(flag).write_text("")
    try:
        listed = run_cli("apply", "--list-hosts", env=fleet.env(), cwd=work)
        result = run_cli(
            "apply", "--yes", "--format", "json", "-e", "redis_tcp_keepalive=29",
            env=fleet.env(), cwd=work,
        )  # fmt: skip
        after = {h.name: h.path("/etc/redis/redis.conf").read_bytes() for h in hosts}
    finally:
        hosts[1].path(flag).unlink()
        for h in hosts:
            h.path("/etc/redis/redis.conf").write_bytes(originals[h.name])
    assert "serial: 1" in listed.stdout and listed.returncode == 0
    doc = json.loads(result.stdout)
    status = {h["host"]: h["status"] for h in doc["hosts"]}
    assert status[hosts[0].name] == "changed", doc
    assert status[hosts[1].name] in ("rolled back", "failed")
    assert status[hosts[2].name] == "skipped"
    assert b"tcp-keepalive 29" in after[hosts[0].name]
    assert after[hosts[1].name] == originals[hosts[1].name]  # restored after its failed check
    assert after[hosts[2].name] == originals[hosts[2].name]  # never touched
    assert result.returncode == 1
