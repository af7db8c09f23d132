"""Run manifests: what each apply or rollback did on a host, kept in remediate_backup_dir."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from remediate.model.plans import to_json

RUN_STATUSES = ("started", "applied", "rolled back", "failed")


def new_run_id(now: float | None = None) -> str:
    """Sortable by time, unique across controllers: 20261122T104501Z-0b1f43a9.

    The suffix starts with the microseconds (five hex digits, zero-padded) and ends with a
    random byte, so two runs on a host within one second still sort in the order they
    ran: ``rollback --last`` picks the newest by this order, and a rollback can follow its
    apply within the same second.
    """
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    micros = min(int((now % 1) * 1_000_000), 999_999)
    return f"{stamp}-{micros:05x}{secrets.token_hex(1)}"


@dataclass(frozen=True)
class ManifestFile:
    path: str
    existed: bool
    sha256_before: str
    sha256_after: str
    mode: str
    uid: int | None
    gid: int | None
    owner: str
    group: str
    backup: str | None  # path of the backup copy on the host
    created_dirs: tuple[str, ...] = ()
    how: str = ""  # "renamed" | "copied (rename failed: mount point)" | "removed"
    kind: str = ""  # the file's format ("redis", ...), "" in manifests of older versions


@dataclass(frozen=True)
class RuntimeEntry:
    service: str
    setting: str
    before: str
    after: str
    address: str = ""
    port: int = 0
    source: str = ""  # the redis.conf whose requirepass authenticates (never the secret itself)


@dataclass(frozen=True)
class HandlerResult:
    name: str
    command: str
    check: str | None
    ok: bool
    output: str = ""


@dataclass(frozen=True)
class Manifest:
    run_id: str
    host: str
    kind: str  # "apply" | "rollback"
    status: str
    started: str
    finished: str = ""
    of_run: str = ""  # the run a rollback undid
    files: tuple[ManifestFile, ...] = ()
    runtime: tuple[RuntimeEntry, ...] = ()
    handlers: tuple[HandlerResult, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def with_(self, **changes: Any) -> Manifest:
        return replace(self, **changes)

    def to_bytes(self) -> bytes:
        """The manifest as kept on the host: a secret setting's values only as a hash (the old
        value lives in the backup file alone, with the backup's mode)."""
        runtime = tuple(
            replace(r, before=_hashed(r.before), after=_hashed(r.after))
            if r.setting.lower() in SECRET_RUNTIME
            else r
            for r in self.runtime
        )
        data = to_json(replace(self, runtime=runtime))
        return (json.dumps({"schema": 1, **data}, indent=2, sort_keys=True) + "\n").encode()

    @staticmethod
    def from_bytes(data: bytes) -> Manifest:
        raw = json.loads(data)
        raw.pop("schema", None)
        return Manifest(
            **{
                **raw,
                "files": tuple(
                    ManifestFile(**{**f, "created_dirs": tuple(f.get("created_dirs", ()))})
                    for f in raw.get("files", ())
                ),
                "runtime": tuple(RuntimeEntry(**r) for r in raw.get("runtime", ())),
                "handlers": tuple(HandlerResult(**h) for h in raw.get("handlers", ())),
                "notes": tuple(raw.get("notes", ())),
            }
        )


#: live settings whose values are secrets: never written to a manifest in clear
SECRET_RUNTIME = frozenset({"requirepass", "masterauth"})


def _hashed(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest() if value else ""


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
