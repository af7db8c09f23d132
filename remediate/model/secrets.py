"""Raw and masked renderings of anything that may hold a secret.

Secrets show as ``********`` plus a short hash, so a changed secret is still
visible as a change without the value ever reaching output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"

# -- which names are secret: the one table every layer asks -----------------------------------

#: Inventory/host variables (and shell/celery settings) whose values are secrets.
SECRET_VAR = re.compile(r"(^|_)(pass|passwd|password|secret|token|passphrase)$", re.IGNORECASE)
#: redis.conf directives whose value is a secret (``user ... >password`` is masked by argument).
REDIS_SECRET_DIRECTIVES = frozenset(
    {"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"}
)
#: The last segment of a rabbitmq.conf key that holds a secret (``default_pass``,
#: ``ssl_options.password``, ``auth_ldap.dn_lookup_bind.password``, OAuth and cloud secrets).
_RABBITMQ_SECRET_KEY = re.compile(
    r"(?:.*[._])?(?:pass|password|passwd|passphrase|secret|secret_key|secret_access_key"
    r"|client_secret|token|acl_token|access_token)"
)


def is_secret_setting(kind: str, name: str) -> bool:
    """Whether a setting of a ``kind`` file holds a secret (shown masked everywhere)."""
    key = name.lower()
    if kind == "redis":
        return key in REDIS_SECRET_DIRECTIVES or key == "user"
    if kind == "rabbitmq":
        return _RABBITMQ_SECRET_KEY.fullmatch(key.rsplit(".", 1)[-1]) is not None
    return SECRET_VAR.search(key) is not None


#: Shortest vault-decrypted value searched for inside free text (diffs, errors): shorter ones
#: ("yes", "on", "1") would mask unrelated words; they are still masked wherever shown as a value.
MIN_FREE_TEXT_SECRET = 4
#: Every vault-decrypted value of this process: each Masker searches text for them too.
_vault_values: set[str] = set()
#: user:password@ in URLs (amqp://user:pw@host, redis://:pw@host).
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)", re.IGNORECASE
)


class SecretText(str):
    """A string decrypted from an Ansible Vault: a secret whatever its variable is called."""


def secret_text(value: str) -> SecretText:
    """``value`` as a SecretText, remembered so that every Masker masks it in free text too."""
    if len(value) >= MIN_FREE_TEXT_SECRET:
        _vault_values.add(str(value))
    return value if isinstance(value, SecretText) else SecretText(value)


def vault_values() -> frozenset[str]:
    """The vault-decrypted values of this process long enough to be searched for in text."""
    return frozenset(_vault_values)


def masked(secret: str | bytes) -> str:
    """``********`` and a short, stable hash of the secret."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return f"{MASK}({hashlib.sha256(raw).hexdigest()[:8]})"


def mask_urls(text: str) -> str:
    """Mask the password part of every URL in ``text``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + masked(m.group("pw")), text)


class Masker:
    """Removes known secret values (and URL passwords) from text before it is shown."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 1)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets | _vault_values, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, masked(secret))
        return mask_urls(text)

    def value(self, value: Any) -> Any:
        """Mask a JSON-like value recursively."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def secret_vars(variables: Mapping[str, Any]) -> list[str]:
    """The values of secret-named variables (for a ``Masker``)."""
    return [
        str(v) for k, v in variables.items() if SECRET_VAR.search(k) and isinstance(v, str | int)
    ]


def mask_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Host variables with secret-named ones and vault-decrypted ones masked (``inventory``)."""
    out: dict[str, Any] = {}
    for key, value in variables.items():
        if SECRET_VAR.search(key) and isinstance(value, str | bytes | int):
            out[key] = masked(str(value))
        else:
            out[key] = _mask_vault_values(value)
    return out


def _mask_vault_values(value: Any) -> Any:
    """A value with every SecretText in it (at any depth) masked and URL passwords masked."""
    if isinstance(value, SecretText):
        return masked(str(value))
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, Mapping):
        return {key: _mask_vault_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_vault_values(item) for item in value]
    return value
