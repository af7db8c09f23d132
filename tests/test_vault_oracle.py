"""Vault support checked against real ansible-core: `remediate inventory --list` versus
`ansible-inventory --list`, on an inventory encrypted by ansible-vault in this test.

ansible-inventory prints a vaulted file's values in plaintext and an inline ``!vault`` value
as ``{"__ansible_vault": CIPHERTEXT}``; remediate prints both masked.  So the oracle's output
is turned into what remediate must print: every value from a vault masked (``masked`` of the
plaintext this test encrypted), secret-named values masked, everything else unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from remediate.model.secrets import SECRET_VAR, masked
from tests.ansible_env import ansible_bin, ansible_env
from tests.conftest import run_cli

DEFAULT_PASSWORD = "oracle default password"
PROD_PASSWORD = "oracle prod password"
#: variables of the vaulted files, by file
VAULT_FILE_VARS = {
    "group_vars/all/vault.yml": {
        "vault_redis_password": "all-redis-pw",
        "remediate_banner": "from the default vault",
        "maxclients": 4096,
        "vault_nested": {"users": ["alice-vault", "bob-vault"]},
    },
    "host_vars/redis-01/vault.yml": {
        "redis_password": "redis-01-pw",
        "redis_maxmemory_policy": "volatile-lru",
    },
}
#: inline !vault values: (file, variable, plaintext, vault id or None)
INLINE_VALUES = [
    ("group_vars/all/vars.yml", "broker_url", "redis://:inline-pw@10.0.0.5:6379/0", None),
    ("group_vars/redis.yml", "redis_requirepass_inline", "prod-inline-secret", "prod"),
    ("host_vars/worker-01.yml", "celery_hint", "not-named-secret", "prod"),
]


def vault(bin_dir: Path, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(bin_dir / "ansible-vault"), *args],
        cwd=cwd,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def vaulted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An inventory whose secrets ansible-vault encrypted: files and inline values."""
    bin_dir = ansible_bin()  # built once; a failed build fails the test
    root = tmp_path_factory.mktemp("vault-oracle")
    (root / "default.pw").write_text(DEFAULT_PASSWORD + "\n")
    (root / "prod.pw").write_text(PROD_PASSWORD + "\n")
    inventory = root / "inventory"
    for sub in ("group_vars/all", "host_vars/redis-01"):
        (inventory / sub).mkdir(parents=True)
    (inventory / "hosts.ini").write_text(
        "[redis]\nredis-01 ansible_host=192.0.2.11\nredis-02 ansible_host=192.0.2.12\n"
        "[workers]\nworker-01 ansible_host=192.0.2.21 ansible_user=celery\n"
    )
    (inventory / "group_vars/all/vars.yml").write_text("redis_port: 6379\nplain_text: visible\n")
    for name, variables in VAULT_FILE_VARS.items():
        (inventory / name).write_text(json.dumps(variables))
        ident = (
            ["--vault-id", "prod@../prod.pw"]
            if name.startswith("host_vars")
            else ["--vault-password-file", "../default.pw"]
        )
        vault(bin_dir, inventory, "encrypt", *ident, name)
        assert (inventory / name).read_text().startswith("$ANSIBLE_VAULT;")
    for name, variable, plaintext, label in INLINE_VALUES:
        ident = (
            ["--vault-id", f"{label}@../prod.pw"]
            if label
            else ["--vault-password-file", "../default.pw"]
        )
        text = vault(bin_dir, inventory, "encrypt_string", *ident, plaintext, "--name", variable)
        with open(inventory / name, "a") as handle:
            handle.write(text)
    return root


def ansible_list(root: Path, *args: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(ansible_bin() / "ansible-inventory"), "-i", "inventory", "--list", *args],
        cwd=root,
        env=ansible_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def remediate_list(root: Path, *args: str, **env: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    done = run_cli("inventory", "-i", "inventory", "--list", *args, cwd=root, env=base | env)
    assert done.returncode == 0, done.stderr
    for plaintext in plaintexts():
        assert plaintext not in done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def plaintexts() -> list[str]:
    found = [text for _, _, text, _ in INLINE_VALUES]
    for variables in VAULT_FILE_VARS.values():
        found.extend(strings(variables))
    return found


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def mask_strings(value: Any) -> Any:
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {key: mask_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_strings(item) for item in value]
    return value


def expected_from(oracle: dict[str, Any]) -> dict[str, Any]:
    """ansible-inventory's output with every secret masked as remediate must mask it."""
    inline = {variable: text for _, variable, text, _ in INLINE_VALUES}
    from_files = {key for variables in VAULT_FILE_VARS.values() for key in variables}
    expected = json.loads(json.dumps(oracle))
    for variables in expected["_meta"]["hostvars"].values():
        for key, value in variables.items():
            if isinstance(value, dict) and "__ansible_vault" in value:
                assert value["__ansible_vault"].startswith("$ANSIBLE_VAULT;")
                variables[key] = masked(inline[key])
            elif key in from_files:
                variables[key] = mask_strings(value)
            elif SECRET_VAR.search(key):
                variables[key] = masked(str(value))
    return expected


def check_against_oracle(oracle: dict[str, Any], ours: dict[str, Any]) -> None:
    hostvars = oracle["_meta"]["hostvars"]
    # the oracle really decrypted the files: a plaintext of each file is in its output
    assert hostvars["redis-01"]["redis_password"] == "redis-01-pw"
    assert hostvars["worker-01"]["vault_redis_password"] == "all-redis-pw"
    assert hostvars["worker-01"]["celery_hint"]["__ansible_vault"].startswith(
        "$ANSIBLE_VAULT;1.2;AES256;prod"
    )
    assert ours == expected_from(oracle)
    # a vaulted value whose name does not look secret is still masked; plain ones are not
    assert ours["_meta"]["hostvars"]["worker-01"]["celery_hint"] == masked("not-named-secret")
    assert ours["_meta"]["hostvars"]["redis-02"]["remediate_banner"] == masked(
        "from the default vault"
    )
    assert ours["_meta"]["hostvars"]["redis-02"]["plain_text"] == "visible"


def test_password_files_and_vault_ids_match_ansible_inventory(vaulted: Path) -> None:
    args = ("--vault-password-file", "default.pw", "--vault-id", "prod@prod.pw")
    check_against_oracle(ansible_list(vaulted, *args), remediate_list(vaulted, *args))


def test_executable_password_file_and_environment_match_ansible_inventory(vaulted: Path) -> None:
    script = vaulted / "default-pass.sh"
    script.write_text(f"#!/bin/sh\necho '{DEFAULT_PASSWORD}'\n")
    script.chmod(0o700)
    env = {
        "ANSIBLE_VAULT_PASSWORD_FILE": str(script),
        "ANSIBLE_VAULT_IDENTITY_LIST": f"prod@{vaulted / 'prod.pw'}",
    }
    check_against_oracle(ansible_list(vaulted, **env), remediate_list(vaulted, **env))


def test_wrong_password_fails_in_both_and_names_the_file(vaulted: Path) -> None:
    (vaulted / "wrong.pw").write_text("not the password\n")
    args = ("--vault-password-file", "wrong.pw", "--vault-id", "prod@prod.pw")
    oracle = subprocess.run(
        [str(ansible_bin() / "ansible-inventory"), "-i", "inventory", "--list", *args],
        cwd=vaulted,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Decryption failed" in oracle.stdout + oracle.stderr
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    done = run_cli("inventory", "-i", "inventory", "--list", *args, cwd=vaulted, env=base)
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "cannot be decrypted" in lines[0]
    # group_vars/all/vars.yml is read before vault.yml; its line 3 holds 'broker_url: !vault |'
    assert lines[0].startswith("remediate: error: inventory/group_vars/all/vars.yml:3: ")
