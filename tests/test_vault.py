"""Ansible Vault decryption and vault passwords, on payloads the real ansible-vault made.

tests/fixtures/vault/ holds files encrypted by ansible-vault 2.19.14 (regenerate.sh there):
whole files in format 1.1 (no label) and 1.2 (label 'prod'), a 16-byte plaintext (a whole
padding block) and inline ``!vault`` values of both formats.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from remediate.errors import InventoryError, UsageError
from remediate.inventory.loader import load_inventory
from remediate.inventory.variables import load_vars_file
from remediate.inventory.vault import (
    VaultSecret,
    VaultSecrets,
    decrypt_envelope,
    parse_envelope,
)
from remediate.inventory.vault_passwords import VaultOptions, load_vault_secrets
from remediate.model.secrets import Masker, SecretText, mask_vars, masked
from tests.conftest import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vault"
DEFAULT_PASSWORD = b"correct horse battery staple"
PROD_PASSWORD = b"prod-secret"  # prod-password.txt is '  prod-secret  \n\n': Ansible strips it
DEFAULT = VaultSecret("default", DEFAULT_PASSWORD)
PROD = VaultSecret("prod", PROD_PASSWORD)


def secrets(*items: VaultSecret, id_match: bool = False) -> VaultSecrets:
    return VaultSecrets(tuple(items), id_match)


def tampered(text: str, part: int | None, index: int = 0) -> str:
    """The payload with one hex digit of its salt (0), HMAC (1) or ciphertext (2) changed."""
    header, *body = text.splitlines()
    parts = bytes.fromhex("".join(body)).split(b"\n", 2)
    if part is not None:
        digits = bytearray(parts[part])
        digits[index] = ord("0") if digits[index] != ord("0") else ord("1")
        parts[part] = bytes(digits)
    hexed = b"\n".join(parts).hex()
    return "\n".join([header, *(hexed[i : i + 80] for i in range(0, len(hexed), 80))]) + "\n"


# --- the format ----------------------------------------------------------------------------


def test_format_1_1_file_decrypts_to_what_was_encrypted() -> None:
    data = load_vars_file(FIXTURES / "vault-1.1.yml", secrets(DEFAULT))
    assert data == {
        "redis_password": "s3cr3t-redis",
        "redis_requirepass_hint": "not-a-secret-name",
        "port": 6379,
    }
    assert isinstance(data["redis_requirepass_hint"], SecretText)  # every string is a secret
    assert data["port"] == 6379 and type(data["port"]) is int


def test_format_1_2_file_with_label_decrypts_utf8() -> None:
    envelope = parse_envelope((FIXTURES / "vault-1.2-prod.yml").read_text())
    assert (envelope.version, envelope.cipher, envelope.label) == ("1.2", "AES256", "prod")
    data = load_vars_file(FIXTURES / "vault-1.2-prod.yml", secrets(PROD))
    assert data == {"rabbitmq_password": "rabbit-pässwörd"}


def test_a_whole_block_of_padding_is_removed() -> None:
    envelope = parse_envelope((FIXTURES / "one-block.vault").read_bytes())
    assert decrypt_envelope(envelope, DEFAULT_PASSWORD) == b"0123456789abcdef"


def test_inline_values_of_both_formats_decrypt() -> None:
    data = load_vars_file(FIXTURES / "inline.yml", secrets(DEFAULT, PROD))
    assert data == {
        "plain": "visible",
        "api_key": "inline-default",
        "broker_url_secret": "inline-prod",
    }
    assert isinstance(data["api_key"], SecretText) and not isinstance(data["plain"], SecretText)


def test_wrong_password_is_one_error_naming_the_file() -> None:
    with pytest.raises(InventoryError, match="cannot be decrypted") as caught:
        load_vars_file(FIXTURES / "vault-1.1.yml", secrets(VaultSecret("default", b"nope")))
    assert caught.value.path == str(FIXTURES / "vault-1.1.yml") and caught.value.line is None


def test_wrong_password_for_an_inline_value_names_its_line() -> None:
    with pytest.raises(InventoryError, match=r"!vault value \(vault id 'prod'\)") as caught:
        load_vars_file(FIXTURES / "inline.yml", secrets(DEFAULT))
    text = (FIXTURES / "inline.yml").read_text().splitlines()
    assert text[caught.value.line - 1].startswith("broker_url_secret: !vault")


@pytest.mark.parametrize(
    ("part", "index", "what"),
    [
        (2, 10, "ciphertext"),
        (2, -1, "last ciphertext digit"),
        (1, 5, "hmac"),
        (0, 3, "salt"),  # other keys, so the HMAC fails too
    ],
)
def test_a_tampered_payload_is_refused(tmp_path: Path, part: int, index: int, what: str) -> None:
    original = (FIXTURES / "vault-1.1.yml").read_text()
    assert tampered(original, None) == original  # the helper changes only the one digit
    path = tmp_path / "vault.yml"
    path.write_text(tampered(original, part, index))
    envelope = parse_envelope(path.read_text())
    assert decrypt_envelope(envelope, DEFAULT_PASSWORD) is None, what
    with pytest.raises(InventoryError, match="wrong password, or the encrypted text was changed"):
        load_vars_file(path, secrets(DEFAULT))


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("$ANSIBLE_VAULT;1.1;AES256\nzz11\n", "not what ansible-vault writes"),
        ("$ANSIBLE_VAULT;1.1;AES256\n", "no encrypted text"),
        ("$ANSIBLE_VAULT;1.1\n6162\n", "no version and cipher"),
        ("$ANSIBLE_VAULT;1.0;AES\n6162\n", "cipher 'AES'"),
    ],
)
def test_malformed_payloads_are_one_clear_error(
    tmp_path: Path, payload: str, fragment: str
) -> None:
    path = tmp_path / "vault.yml"
    path.write_text(payload)
    with pytest.raises(InventoryError, match=fragment) as caught:
        load_vars_file(path, secrets(DEFAULT))
    assert caught.value.path == str(path)


def test_without_a_password_the_error_says_which_option_gives_it() -> None:
    with pytest.raises(InventoryError, match="--vault-password-file FILE, --vault-id"):
        load_vars_file(FIXTURES / "vault-1.1.yml")
    with pytest.raises(InventoryError, match="no vault password was given") as caught:
        load_vars_file(FIXTURES / "inline.yml")
    assert caught.value.line == 2  # api_key: !vault |


# --- which secret is tried -----------------------------------------------------------------


def test_the_secret_with_the_payloads_label_is_tried_first() -> None:
    wrong_default = VaultSecret("default", b"wrong")
    other = VaultSecret("other", b"x")
    assert secrets(wrong_default, other, PROD).candidates("prod") == [PROD, wrong_default, other]
    assert secrets(wrong_default, PROD).candidates(None) == [wrong_default, PROD]
    assert secrets(wrong_default, PROD, id_match=True).candidates("prod") == [PROD]


def test_any_secret_decrypts_when_labels_do_not_match() -> None:
    # Ansible: the label is a hint; other secrets are tried after the matching ones
    mislabelled = VaultSecret("staging", PROD_PASSWORD)
    data = load_vars_file(
        FIXTURES / "vault-1.2-prod.yml", secrets(VaultSecret("prod", b"wrong"), mislabelled)
    )
    assert data["rabbitmq_password"] == "rabbit-pässwörd"
    with pytest.raises(InventoryError, match="vault ids: prod"):
        load_vars_file(
            FIXTURES / "vault-1.2-prod.yml",
            secrets(VaultSecret("prod", b"wrong"), mislabelled, id_match=True),
        )


# --- password sources ----------------------------------------------------------------------


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_password_file_is_its_whole_content_stripped() -> None:
    loaded = load_vault_secrets(
        VaultOptions(password_files=(str(FIXTURES / "prod-password.txt"),)), environ={}
    )
    assert [(s.label, s.password) for s in loaded.secrets] == [("default", PROD_PASSWORD)]


def test_executable_password_file_is_run(tmp_path: Path) -> None:
    script = executable(tmp_path / "pass.sh", "#!/bin/sh\nprintf ' spaced \\r\\n'\n")
    loaded = load_vault_secrets(VaultOptions(vault_ids=(f"ops@{script}",)), environ={})
    assert [(s.label, s.password) for s in loaded.secrets] == [("ops", b" spaced ")]


def test_client_script_is_asked_for_its_vault_id(tmp_path: Path) -> None:
    script = executable(
        tmp_path / "vault-client.sh",
        '#!/bin/sh\n[ "$1 $2" = "--vault-id prod" ] && echo prod-secret && exit 0\n'
        'echo "no $2" >&2; exit 2\n',
    )
    loaded = load_vault_secrets(VaultOptions(vault_ids=(f"prod@{script}",)), environ={})
    assert loaded.secrets[0].password == PROD_PASSWORD
    with pytest.raises(InventoryError, match="no secret for vault id 'dev': no dev"):
        load_vault_secrets(VaultOptions(vault_ids=(f"dev@{script}",)), environ={})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("#!/bin/sh\necho oops >&2\nexit 3\n", "exited with 3"),
        ("#!/bin/sh\necho\n", "printed no password"),
    ],
)
def test_failing_password_scripts_are_errors(tmp_path: Path, body: str, fragment: str) -> None:
    script = executable(tmp_path / "pass.sh", body)
    with pytest.raises(InventoryError, match=fragment) as caught:
        load_vault_secrets(VaultOptions(password_files=(str(script),)), environ={})
    assert caught.value.path == str(script)


def test_missing_password_file_and_labelled_file_hint(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_vault_secrets(VaultOptions(password_files=(str(tmp_path / "none"),)), environ={})
    with pytest.raises(UsageError, match="use --vault-id LABEL@FILE"):
        load_vault_secrets(VaultOptions(password_files=(f"prod@{tmp_path}/none",)), environ={})


def test_empty_password_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text(" \n\n")
    with pytest.raises(InventoryError, match="empty"):
        load_vault_secrets(VaultOptions(password_files=(str(tmp_path / "empty"),)), environ={})


def test_order_is_identity_list_vault_ids_files_env_file_prompt(tmp_path: Path) -> None:
    for name in "abcde":
        (tmp_path / name).write_text(name)
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return "  typed \n"

    loaded = load_vault_secrets(
        VaultOptions(
            vault_ids=(f"two@{tmp_path}/b", "three@prompt"),
            password_files=(f"{tmp_path}/c",),
            ask_vault_pass=True,
        ),
        environ={
            "ANSIBLE_VAULT_IDENTITY_LIST": f"one@{tmp_path}/a, {tmp_path}/d",
            "ANSIBLE_VAULT_PASSWORD_FILE": f"{tmp_path}/e",
        },
        prompt=prompt,
    )
    assert [(s.label, s.password) for s in loaded.secrets] == [
        ("one", b"a"),
        ("default", b"d"),
        ("two", b"b"),
        ("three", b"typed"),
        ("default", b"c"),
        ("default", b"e"),
        ("default", b"typed"),
    ]
    assert prompts == ["Vault password (three): ", "Vault password: "]


def test_a_vaulted_password_file_is_decrypted_with_earlier_passwords(tmp_path: Path) -> None:
    # the 1.1 fixture's plaintext is YAML, but any text is a password to Ansible
    loaded = load_vault_secrets(
        VaultOptions(
            password_files=(str(FIXTURES / "password.txt"), str(FIXTURES / "one-block.vault"))
        ),
        environ={},
    )
    assert loaded.secrets[1].password == b"0123456789abcdef"


# --- masking -------------------------------------------------------------------------------


def test_vaulted_values_are_masked_whatever_their_name() -> None:
    data = load_vars_file(FIXTURES / "vault-1.1.yml", secrets(DEFAULT))
    shown = mask_vars({**data, "nested": {"list": [data["redis_requirepass_hint"], "ok"]}})
    assert shown["redis_requirepass_hint"] == masked("not-a-secret-name")
    assert shown["nested"] == {"list": [masked("not-a-secret-name"), "ok"]}
    assert shown["port"] == 6379
    assert "not-a-secret-name" not in Masker()("diff: +hint not-a-secret-name")


def test_inventory_cli_masks_vaulted_values_and_refuses_wrong_password(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.ini").write_text("[redis]\nr1 ansible_host=192.0.2.1\n")
    shutil.copy(FIXTURES / "vault-1.1.yml", inventory / "group_vars" / "all" / "vault.yml")
    shutil.copy(FIXTURES / "inline.yml", inventory / "group_vars" / "redis.yml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    done = run_cli(
        "inventory",
        "-i",
        str(inventory),
        "--host",
        "r1",
        "--vault-password-file",
        str(FIXTURES / "password.txt"),
        "--vault-id",
        f"prod@{FIXTURES / 'prod-password.txt'}",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ansible_host": "192.0.2.1",
        "port": 6379,
        "plain": "visible",
        "redis_password": masked("s3cr3t-redis"),
        "redis_requirepass_hint": masked("not-a-secret-name"),
        "api_key": masked("inline-default"),
        "broker_url_secret": masked("inline-prod"),
    }
    for secret in ("s3cr3t-redis", "not-a-secret-name", "inline-default", "inline-prod"):
        assert secret not in done.stdout + done.stderr

    (tmp_path / "wrong").write_text("wrong\n")
    done = run_cli(
        "inventory",
        "-i",
        str(inventory),
        "--list",
        "--vault-password-file",
        str(tmp_path / "wrong"),
        env=env,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert str(inventory / "group_vars" / "all" / "vault.yml") in done.stderr
    assert "cannot be decrypted" in done.stderr


def test_no_terminal_for_ask_vault_pass_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    (tmp_path / "hosts.ini").write_text("h1\n")
    done = run_cli(
        "inventory",
        "-i",
        str(tmp_path / "hosts.ini"),
        "--list",
        "--ask-vault-pass",
        env=env,
        input="",
    )
    assert done.returncode == 64 and "Traceback" not in done.stderr
    assert "needs a terminal" in done.stderr and "--vault-password-file" in done.stderr


def test_vaulted_inventory_file_values_are_secrets() -> None:
    inv = load_inventory(FIXTURES / "hosts.ini", vault=secrets(DEFAULT))
    host = inv.hosts["r1"]
    assert (host.address, host.vars["redis_auth"], host.groups) == (
        "192.0.2.7",
        "inventory-secret",
        ("redis",),
    )
    assert isinstance(host.vars["redis_auth"], SecretText) and "r1" in inv.hosts
    with pytest.raises(InventoryError, match="Inventory file is encrypted"):
        load_inventory(FIXTURES / "hosts.ini")


def test_json_export_vault_markers_are_decrypted(tmp_path: Path) -> None:
    text = (FIXTURES / "inline.yml").read_text()
    block = text.split("api_key: !vault |\n", 1)[1].split("broker_url_secret")[0]
    payload = "".join(line.strip() + "\n" for line in block.splitlines())
    export = {
        "_meta": {"hostvars": {"h1": {"api_key": {"__ansible_vault": payload}}}},
        "all": {"children": ["ungrouped"]},
        "ungrouped": {"hosts": ["h1"]},
    }
    (tmp_path / "fleet.json").write_text(json.dumps(export))
    inv = load_inventory(tmp_path / "fleet.json", vault=secrets(DEFAULT))
    assert inv.hosts["h1"].vars["api_key"] == "inline-default"
    assert isinstance(inv.hosts["h1"].vars["api_key"], SecretText)
    with pytest.raises(InventoryError, match="__ansible_vault value is encrypted") as caught:
        load_inventory(tmp_path / "fleet.json")
    assert caught.value.path == str(tmp_path / "fleet.json")


def test_ask_vault_pass_prompts_on_the_terminal(tmp_path: Path) -> None:
    """A real pseudo-terminal: the prompt appears there and the typed password decrypts."""
    import fcntl
    import pty
    import select
    import subprocess
    import sys
    import termios
    import time

    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.ini").write_text("h1\n")
    shutil.copy(FIXTURES / "vault-1.1.yml", inventory / "group_vars" / "all" / "vault.yml")
    controller, terminal = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    exe = Path(sys.executable).with_name("remediate")
    child = subprocess.Popen(
        [str(exe), "inventory", "-i", str(inventory), "--host", "h1", "--ask-vault-pass"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
        preexec_fn=own_terminal,  # noqa: PLW1509
    )
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 30
    while b"Vault password: " not in seen and time.monotonic() < deadline:
        if select.select([controller], [], [], 1)[0]:
            seen += os.read(controller, 1024)
    assert b"Vault password: " in seen
    os.write(controller, DEFAULT_PASSWORD + b"\n")
    out, _ = child.communicate(timeout=60)
    os.close(controller)
    assert child.returncode == 0
    shown = json.loads(out)
    assert shown["redis_password"] == masked("s3cr3t-redis") and shown["port"] == 6379
    assert DEFAULT_PASSWORD not in out
