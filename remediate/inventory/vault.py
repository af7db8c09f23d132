"""Ansible Vault: decrypt format 1.1 and 1.2 payloads (whole files and ``!vault`` values).

The format, as ansible-core writes and reads it (lib/ansible/parsing/vault/__init__.py,
VaultLib and VaultAES256; read at v2.17.5 and in 2.19.14):

    $ANSIBLE_VAULT;1.1;AES256              header; 1.2 adds a vault id label:
    $ANSIBLE_VAULT;1.2;AES256;LABEL        (the label is not authenticated: only a hint)
    6631...                                hex text in lines of 80

The joined lines, unhexlified, are ``hex(salt) "\\n" hex(hmac) "\\n" hex(ciphertext)``.
PBKDF2-HMAC-SHA256 over the password and salt, 10000 iterations, derives 80 bytes: the
AES-256 key, the HMAC-SHA256 key and the 16-byte initial counter.  The HMAC of the
ciphertext is checked (in constant time) before AES-256-CTR decrypts it; the plaintext is
PKCS7-padded to the 128-bit block.  A wrong password and a changed payload look the same:
the HMAC does not match.  Secrets are tried as Ansible tries them: those whose label is
the payload's first, then the others (unless ANSIBLE_VAULT_ID_MATCH).

Only the ``cryptography`` package is used; ansible-core is never imported.
"""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediate.errors import InventoryError
from remediate.model.secrets import SecretText, secret_text

HEADER = "$ANSIBLE_VAULT"
DEFAULT_LABEL = "default"
PBKDF2_ITERATIONS = 10000
KEY_LENGTH, IV_LENGTH = 32, 16
PASSWORD_HINT = (
    "give the vault password with --vault-password-file FILE, --vault-id LABEL@FILE "
    "or --ask-vault-pass (or set ANSIBLE_VAULT_PASSWORD_FILE)"
)


class VaultFormatError(ValueError):
    """Text that starts like a vault payload but is not a valid one."""


@dataclass(frozen=True)
class Envelope:
    """A parsed vault payload: header fields and the (still hex) body."""

    version: str
    cipher: str
    label: str | None
    body: bytes


@dataclass(frozen=True)
class VaultSecret:
    """One vault password and the label (vault id) it is known by."""

    label: str
    password: bytes = field(repr=False)
    source: str = ""  # where it came from, for messages: "file /etc/vault-pass", "prompt"


@dataclass(frozen=True)
class VaultSecrets:
    """The vault passwords of a run, in the order Ansible would try them."""

    secrets: tuple[VaultSecret, ...] = ()
    id_match: bool = False  # ANSIBLE_VAULT_ID_MATCH: only a secret whose label matches

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def candidates(self, label: str | None) -> list[VaultSecret]:
        """The secrets to try for a payload labelled ``label``: matching ones first."""
        matching = [secret for secret in self.secrets if label and secret.label == label]
        if self.id_match and label:
            return matching
        return matching + [secret for secret in self.secrets if secret not in matching]

    def decrypt(
        self, payload: str | bytes, *, what: str, path: Path | str, line: int | None = None
    ) -> bytes:
        """The plaintext of ``payload``; one InventoryError naming the file (and line) if not.

        ``what`` names the payload in messages: "Vars file", "This !vault value", ...
        """
        try:
            envelope = parse_envelope(payload)
        except VaultFormatError as error:
            raise InventoryError(
                f"{what} is not a valid ansible-vault payload: {error}.", path=str(path), line=line
            ) from None
        if envelope.cipher != "AES256":
            raise InventoryError(
                f"{what} uses vault cipher {envelope.cipher!r} (format {envelope.version}), which "
                "remediate cannot decrypt; re-encrypt it with 'ansible-vault rekey' (AES256).",
                path=str(path),
                line=line,
            )
        if not self.secrets:
            raise InventoryError(
                f"{what} is encrypted with ansible-vault and no vault password "
                f"was given; {PASSWORD_HINT}.",
                path=str(path),
                line=line,
            )
        tried = self.candidates(envelope.label)
        for secret in tried:
            try:
                plaintext = decrypt_envelope(envelope, secret.password)
            except VaultFormatError as error:
                raise InventoryError(
                    f"{what} is not a valid ansible-vault payload: {error}.",
                    path=str(path),
                    line=line,
                ) from None
            if plaintext is not None:
                return plaintext
        labels = ", ".join(dict.fromkeys(secret.label for secret in tried)) or "none"
        label = f" (vault id {envelope.label!r})" if envelope.label else ""
        raise InventoryError(
            f"{what}{label} cannot be decrypted with the vault password(s) given (vault ids: "
            f"{labels}): a wrong password, or the encrypted text was changed.",
            path=str(path),
            line=line,
        )


def is_vault_payload(data: str | bytes) -> bool:
    """True for text that starts with the vault header, as ansible-core's is_encrypted."""
    if isinstance(data, bytes):
        return data.startswith(HEADER.encode())
    return data.startswith(HEADER)


def parse_envelope(payload: str | bytes) -> Envelope:
    """Header and body of a vault payload (raises VaultFormatError)."""
    try:
        text = payload.decode("ascii") if isinstance(payload, bytes) else payload
        text.encode("ascii")
    except UnicodeError:
        raise VaultFormatError("it holds non-ASCII characters") from None
    lines = text.splitlines()
    if not lines or not lines[0].startswith(HEADER):
        raise VaultFormatError(f"it does not start with {HEADER}")
    fields = [part.strip() for part in lines[0].strip().split(";")]
    if len(fields) < 3:
        raise VaultFormatError(f"the header {lines[0].strip()!r} has no version and cipher")
    label = fields[3] if len(fields) >= 4 and fields[3] else None
    body = "".join(line.strip() for line in lines[1:]).encode("ascii")
    if not body:
        raise VaultFormatError("it has a header but no encrypted text")
    return Envelope(version=fields[1], cipher=fields[2], label=label, body=body)


def decrypt_envelope(envelope: Envelope, password: bytes) -> bytes | None:
    """The plaintext, or None when the HMAC does not match (wrong password or tampered)."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, expected_hmac, ciphertext = _split_body(envelope.body)
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * KEY_LENGTH + IV_LENGTH,
        salt=salt,
        iterations=PBKDF2_ITERATIONS,
    ).derive(password)
    aes_key, hmac_key = derived[:KEY_LENGTH], derived[KEY_LENGTH : 2 * KEY_LENGTH]
    counter = derived[2 * KEY_LENGTH :]
    actual_hmac = hmac.new(hmac_key, ciphertext, "sha256").digest()
    if not hmac.compare_digest(actual_hmac, expected_hmac):
        return None
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(counter)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultFormatError("its padding is invalid after decryption") from None


def _split_body(body: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        salt_hex, hmac_hex, ciphertext_hex = binascii.unhexlify(body).split(b"\n", 2)
        return (
            binascii.unhexlify(salt_hex),
            binascii.unhexlify(hmac_hex),
            binascii.unhexlify(ciphertext_hex),
        )
    except (binascii.Error, ValueError) as error:
        raise VaultFormatError(
            f"its encrypted text is not what ansible-vault writes ({error})"
        ) from None


def decrypt_text(
    secrets: VaultSecrets,
    payload: str | bytes,
    *,
    what: str,
    path: Path | str,
    line: int | None = None,
) -> str:
    """The plaintext of a payload as UTF-8 text."""
    plaintext = secrets.decrypt(payload, what=what, path=path, line=line)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError(
            f"{what} decrypts to text that is not UTF-8.", path=str(path), line=line
        ) from None


def mark_secret(value: Any) -> Any:
    """``value`` with every string in it (not the mapping keys) a SecretText."""
    if isinstance(value, str):
        return value if isinstance(value, SecretText) else secret_text(str(value))
    if isinstance(value, Mapping):
        return {key: mark_secret(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mark_secret(item) for item in value]
    return value
