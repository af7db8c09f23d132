"""Secrets are masked as the program reads them *and* as they are written (issue 20 item 16):
an escape inside quotes or a URL split by implicit string concatenation never reaches a diff,
a JSON document or a saved plan."""

from __future__ import annotations

import difflib

from remediate.formats import parse, secrets_of
from remediate.model.secrets import Masker


def _shown(kind: str, before: bytes, after: bytes) -> str:
    masker = Masker(secrets_of(parse(kind, before, "x")) + secrets_of(parse(kind, after, "x")))
    diff = "\n".join(
        difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), n=3)
    )
    return masker(diff)


def test_an_escaped_redis_password_is_masked_as_written() -> None:
    before = b'requirepass "Sup3r-s3cr\\x65t-pw"\ntimeout 300\n'
    assert parse("redis", before, "x").settings()["requirepass"] == "Sup3r-s3cret-pw"
    shown = _shown("redis", before, b'requirepass "N3w-s3cr\\x65t-pw"\ntimeout 0\n')
    for leaked in ("Sup3r", "s3cr\\x65t", "N3w-s3cr"):
        assert leaked not in shown, shown
    assert "timeout 0" in shown


def test_a_url_split_by_implicit_concatenation_is_masked() -> None:
    before = (
        b'broker_url = "redis://:Concat-s3" "cret-43@localhost:6379/0"\nworker_concurrency = 2\n'
    )
    shown = _shown("celery", before, before.replace(b"= 2", b"= 4"))
    for leaked in ("Concat-s3", "cret-43", "Concat-s3cret-43"):
        assert leaked not in shown, shown
    assert "worker_concurrency = 4" in shown


def test_a_concatenation_across_lines_is_masked_line_by_line() -> None:
    before = (
        b'broker_url = (\n    "amqp://celery:Spl1t-"\n    "acr0ss-lines@rabbit:5672//"\n)\n'
        b"worker_concurrency = 2\n"
    )
    shown = _shown("celery", before, before.replace(b"= 2", b"= 4"))
    assert "Spl1t-" not in shown and "acr0ss-lines" not in shown, shown
