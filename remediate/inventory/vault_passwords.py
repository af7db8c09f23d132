"""Where vault passwords come from: the same options and variables as ansible-core.

    secrets = load_vault_secrets(VaultOptions(password_files=("~/.vault-pass",)))
    load_inventory(["inventory/"], vault=secrets)

Read at ansible-core v2.17.5 (and unchanged in 2.19.14): lib/ansible/cli/__init__.py
(build_vault_ids, setup_vault_secrets), lib/ansible/parsing/vault/__init__.py
(get_file_vault_secret, FileVaultSecret, ScriptVaultSecret, ClientScriptVaultSecret,
PromptVaultSecret) and lib/ansible/config/base.yml.  Secrets are tried in this order:

1. ``ANSIBLE_VAULT_IDENTITY_LIST`` (comma-separated ``label@source``), then each
   ``--vault-id label@source`` (``source`` alone: label ``default``);
2. each ``--vault-password-file PATH``, then ``ANSIBLE_VAULT_PASSWORD_FILE``, all with the
   label ``default`` (a ``@`` in PATH is part of the path, as in Ansible);
3. ``--ask-vault-pass``: a prompt, label ``default``.

A source is ``prompt`` (asked on the terminal), an executable file (run; its stdout less
trailing CR/LF is the password; a ``NAME-client`` script gets ``--vault-id LABEL``) or a
plain file (its whole content stripped of surrounding whitespace: Ansible reads the whole
file, not only the first line).  ``ANSIBLE_VAULT_IDENTITY`` renames the default label;
``ANSIBLE_VAULT_ID_MATCH`` tries only secrets whose label matches the payload's.

Unlike Ansible, which warns and goes on when one of several sources fails, any source
that cannot be read is an error: an incident is no time for a half-loaded vault.
"""

from __future__ import annotations

import getpass
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from remediate.errors import InventoryError, UsageError
from remediate.inventory.vault import (
    DEFAULT_LABEL,
    VaultSecret,
    VaultSecrets,
    is_vault_payload,
)

PROMPTS = ("prompt", "prompt_ask_vault_pass")
CLIENT_UNKNOWN_ID = 2  # a -client script's exit code for "no secret for that vault id"
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})


@dataclass(frozen=True)
class VaultOptions:
    """What the command line says about vault passwords."""

    vault_ids: tuple[str, ...] = ()  # --vault-id, each 'label@source' or 'source'
    password_files: tuple[str, ...] = ()  # --vault-password-file
    ask_vault_pass: bool = False  # --ask-vault-pass


def load_vault_secrets(
    options: VaultOptions,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> VaultSecrets:
    """Every vault password the options and environment name, read now, in Ansible's order."""
    env = os.environ if environ is None else environ
    default_label = env.get("ANSIBLE_VAULT_IDENTITY", "").strip() or DEFAULT_LABEL
    slugs: list[tuple[str, str, str]] = []  # (label, source, option that named it)
    for text in env.get("ANSIBLE_VAULT_IDENTITY_LIST", "").split(","):
        if text.strip():
            slugs.append(
                (*_split_vault_id(text.strip(), default_label), "ANSIBLE_VAULT_IDENTITY_LIST")
            )
    for text in options.vault_ids:
        if not text.strip():
            raise UsageError("--vault-id needs LABEL@SOURCE or SOURCE (a file, or 'prompt').")
        slugs.append((*_split_vault_id(text.strip(), default_label), "--vault-id"))
    slugs.extend((default_label, path, "--vault-password-file") for path in options.password_files)
    if env.get("ANSIBLE_VAULT_PASSWORD_FILE", "").strip():
        slugs.append(
            (
                default_label,
                env["ANSIBLE_VAULT_PASSWORD_FILE"].strip(),
                "ANSIBLE_VAULT_PASSWORD_FILE",
            )
        )
    if options.ask_vault_pass:
        slugs.append((default_label, "prompt_ask_vault_pass", "--ask-vault-pass"))
    id_match = env.get("ANSIBLE_VAULT_ID_MATCH", "").strip().lower() in _TRUE
    secrets: list[VaultSecret] = []
    for label, source, option in slugs:
        if source in PROMPTS:
            password = _prompt(label, source, option, prompt)
            secrets.append(VaultSecret(label, password, "prompt"))
        else:
            path = Path(os.path.expandvars(os.path.expanduser(source))).absolute()
            known = VaultSecrets(tuple(secrets), id_match)
            secrets.append(_password_from_file(label, path, option, known))
    return VaultSecrets(tuple(secrets), id_match)


def _split_vault_id(text: str, default_label: str) -> tuple[str, str]:
    """'label@source' -> (label, source); 'source' -> (default label, source)."""
    label, separator, source = text.partition("@")
    if not separator:
        return default_label, text
    if not label or not source:
        raise UsageError(f"--vault-id {text!r}: expected LABEL@SOURCE (a file, or 'prompt').")
    return label, source


def _prompt(label: str, source: str, option: str, prompt: Callable[[str], str] | None) -> bytes:
    text = (
        "Vault password: " if source == "prompt_ask_vault_pass" else f"Vault password ({label}): "
    )
    if prompt is None:
        if not sys.stdin.isatty():
            raise UsageError(
                f"{option} needs a terminal to ask for the vault password on, and "
                "there is none; use --vault-password-file FILE instead."
            )
        prompt = getpass.getpass
    try:
        password = prompt(text).encode("utf-8").strip()
    except EOFError:
        raise UsageError(f"No vault password was typed ({option}).") from None
    if not password:
        raise UsageError(f"The vault password typed for {option} is empty.")
    return password


def _password_from_file(label: str, path: Path, option: str, known: VaultSecrets) -> VaultSecret:
    if not path.exists():
        hint = ""
        if "@" in str(path) and option == "--vault-password-file":
            hint = " (for a labelled password use --vault-id LABEL@FILE)"
        raise UsageError(f"{option}: the vault password file {path} does not exist{hint}.")
    if _is_executable(path):
        return VaultSecret(label, _password_from_script(label, path), f"script {path}")
    try:
        content = path.read_bytes().strip()
    except OSError as error:
        raise UsageError(
            f"{option}: cannot read the vault password file {path}: {error.strerror}."
        ) from None
    if is_vault_payload(content):  # a password file encrypted with an earlier password
        content = known.decrypt(content, what="Vault password file", path=path)
    password = content.strip(b"\r\n")
    if not password:
        raise InventoryError("The vault password file is empty.", path=str(path))
    return VaultSecret(label, password, f"file {path}")


def _is_executable(path: Path) -> bool:
    """As ansible-core's is_executable: any execute bit (a directory is no script)."""
    mode = path.stat().st_mode
    return stat.S_ISREG(mode) and bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))


def _password_from_script(label: str, path: Path) -> bytes:
    """Run a password script; a NAME-client script is asked for one vault id."""
    client = os.path.splitext(path.name)[0].endswith("-client")
    command = [str(path), "--vault-id", label] if client else [str(path)]
    try:
        # stderr stays the terminal's (unless a client): a script may ask for a passphrase
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE if client else None, check=False
        )
    except OSError as error:
        raise InventoryError(
            f"Cannot run the vault password script: {error.strerror} (if it "
            "is not a script, remove its execute bit).",
            path=str(path),
        ) from None
    stderr = (done.stderr or b"").decode(errors="replace").strip()
    detail = f": {stderr}" if stderr else ""
    if client and done.returncode == CLIENT_UNKNOWN_ID:
        raise InventoryError(
            f"The vault password client script has no secret for vault id {label!r}{detail}.",
            path=str(path),
        )
    if done.returncode != 0:
        raise InventoryError(
            f"The vault password script exited with {done.returncode}{detail}.", path=str(path)
        )
    password = done.stdout.strip(b"\r\n")
    if not password:
        raise InventoryError("The vault password script printed no password.", path=str(path))
    return password
