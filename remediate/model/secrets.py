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

#: Inventory/host variables whose values are secrets.
SECRET_VAR = re.compile(r"(^|_)(pass|passwd|password|secret|token|passphrase)$", re.IGNORECASE)
#: user:password@ in URLs (amqp://user:pw@host, redis://:pw@host).
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)", re.IGNORECASE)


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
        for secret in sorted(self._secrets, key=len, reverse=True):
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
    return [str(v) for k, v in variables.items() if SECRET_VAR.search(k) and isinstance(v, str | int)]


def mask_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Host variables with secret-named ones masked (for ``inventory --list``)."""
    out: dict[str, Any] = {}
    for key, value in variables.items():
        if SECRET_VAR.search(key) and isinstance(value, str | bytes | int):
            out[key] = masked(str(value))
        elif isinstance(value, str):
            out[key] = mask_urls(value)
        else:
            out[key] = value
    return out
