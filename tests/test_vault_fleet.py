"""`remediate plan` authenticates to the live Redis of fleet hosts with a `redis_password`
that only an ansible-vault encrypted `group_vars/all/vault.yml` holds.

The live redis-servers get a ``requirepass`` that differs from the one in their redis.conf,
so the file cannot stand in for the inventory: only the decrypted vault value lets the
runtime facts be read.  A control run without that variable must fail to authenticate.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from remediate.model.secrets import masked
from tests.ansible_env import ansible_bin, ansible_env
from tests.conftest import run_cli
from tests.fleet import Fleet
from tests.scenario import PASSWORD, drift, redis_client, write_project

VAULT_PASSWORD = "fleet vault password"
LIVE_PASSWORD = "Vault-only-r3dis-pw"  # live requirepass; redis.conf still says PASSWORD


def set_live_password(fleet: Fleet, old: str | None, new: str) -> None:
    for host in fleet.hosts:
        client = redis.Redis(host=host.address, port=6379, password=old, socket_timeout=5)
        client.config_set("requirepass", new)


@pytest.fixture
def project(fleet: Fleet, tmp_path: Path) -> Iterator[Path]:
    drift(fleet)
    write_project(fleet, tmp_path)
    (tmp_path / "vault.pw").write_text(VAULT_PASSWORD + "\n")
    vault_file = tmp_path / "inventory" / "group_vars" / "all" / "vault.yml"
    vault_file.parent.mkdir(parents=True)
    vault_file.write_text(f"redis_password: {LIVE_PASSWORD}\n")
    done = subprocess.run(
        [
            str(ansible_bin() / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(tmp_path / "vault.pw"),
            str(vault_file),
        ],
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert vault_file.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    set_live_password(fleet, PASSWORD, LIVE_PASSWORD)
    try:
        yield tmp_path
    finally:
        set_live_password(fleet, LIVE_PASSWORD, PASSWORD)  # as the other fleet tests expect
        for host in fleet.hosts:
            redis_client(host).ping()


def environment(fleet: Fleet) -> dict[str, str]:
    return {k: v for k, v in fleet.env().items() if not k.startswith("ANSIBLE_VAULT")}


def test_plan_authenticates_with_the_vaulted_redis_password(project: Path, fleet: Fleet) -> None:
    result = run_cli(
        "plan",
        "--detailed-exitcode",
        "--format",
        "json",
        "--vault-password-file",
        "vault.pw",
        env=environment(fleet),
        cwd=project,
    )
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr
    doc = json.loads(result.stdout)
    assert [h["host"] for h in doc["hosts"]] == [h.name for h in fleet.hosts]
    for host in doc["hosts"]:
        redis_facts = host["facts"]["redis"]
        assert redis_facts["running"] and redis_facts["ping"], redis_facts
        runtime = {(r["setting"], r["live"], r["desired"]) for r in host["runtime_changes"]}
        assert runtime == {("timeout", "300", "0"), ("tcp-keepalive", "0", "60")}
    for blob in (result.stdout, result.stderr):
        assert LIVE_PASSWORD not in blob and PASSWORD not in blob

    listed = run_cli(
        "inventory",
        "--list",
        "--vault-password-file",
        "vault.pw",
        env=environment(fleet),
        cwd=project,
    )
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]
    assert {v["redis_password"] for v in hostvars.values()} == {masked(LIVE_PASSWORD)}


def test_without_the_vault_password_nothing_is_contacted(project: Path, fleet: Fleet) -> None:
    result = run_cli("plan", env=environment(fleet), cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        (
            "remediate: error: inventory/group_vars/all/vault.yml: Vars file is encrypted with "
            "ansible-vault and no vault password was given; give the vault password with "
            "--vault-password-file FILE, --vault-id LABEL@FILE or --ask-vault-pass (or set "
            "ANSIBLE_VAULT_PASSWORD_FILE)."
        )
    ]


def test_control_the_file_password_alone_does_not_authenticate(project: Path, fleet: Fleet) -> None:
    # the same run with the vaulted file gone: the runtime falls back to redis.conf's
    # requirepass, which the live servers no longer accept, so the vault value mattered above
    os.unlink(project / "inventory" / "group_vars" / "all" / "vault.yml")
    first = fleet.hosts[0].name
    result = run_cli(
        "plan", "--format", "json", "--limit", first, env=environment(fleet), cwd=project
    )
    doc = json.loads(result.stdout)
    assert "authentication failed" in json.dumps(doc["hosts"][0]), result.stdout[-3000:]
