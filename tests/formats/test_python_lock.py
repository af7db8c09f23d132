"""The python-lock kind: requirements files and the lock files of poetry, uv, pipenv and pdm."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import parse
from remediate.formats.python_lock import PythonLockDocument

RULE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "lock"


def lock(text: str, path: str) -> PythonLockDocument:
    doc = parse("python-lock", text.encode(), path)
    assert isinstance(doc, PythonLockDocument) and doc.dump() == text.encode()
    return doc


def test_requirements_lines() -> None:
    text = (
        "# pinned\n-r base.txt\n--index-url https://pypi.example/simple\n"
        "Celery[redis,msgpack]==5.6.3 ; python_version >= '3.9'  # the app\n"
        "kombu==5.6.2 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n"
        "redis>=4.5.2,<6.5\n-e git+https://github.com/x/y.git#egg=y\n"
        "vine @ https://example.com/vine-5.1.0.tar.gz\nnot a requirement!\n"
    )
    doc = lock(text, "requirements/prod-requirements.txt")
    assert doc.flavor == "requirements"
    celery, kombu, redis = doc.package("celery"), doc.package("kombu"), doc.package("redis")
    assert celery and (celery.version, celery.extras, celery.line) == (
        "5.6.3",
        ("msgpack", "redis"),
        4,
    )
    assert kombu and (kombu.version, kombu.line) == ("5.6.2", 5)
    assert redis and redis.version is None and redis.specifier == "<6.5,>=4.5.2"
    assert doc.package("vine") is None and doc.extras_of("celery") == {"redis", "msgpack"}


def test_requirements_edit_pins_one_line() -> None:
    doc = lock("celery==5.6.3\nkombu==5.6.2  # via celery\n", "requirements.txt")
    doc.set("kombu", "5.7.0")
    assert doc.dump() == b"celery==5.6.3\nkombu==5.7.0\n"
    doc.set("redis", "8.1.0")
    assert doc.dump().endswith(b"\nredis==8.1.0\n")


@pytest.mark.parametrize(
    "name", ["requirements-redis.txt", "requirements-current.txt", "uv/uv.lock"]
)
def test_rule_fixtures_round_trip(name: str) -> None:
    data = (RULE_FIXTURES / name).read_bytes()
    assert parse("python-lock", data, name).dump() == data


def test_uv_lock_reads_versions_lines_and_requested_extras() -> None:
    data = (RULE_FIXTURES / "uv" / "uv.lock").read_text()
    doc = lock(data, "uv.lock")
    kombu = doc.package("kombu")
    assert doc.flavor == "uv" and kombu and (kombu.version, kombu.line) == ("5.3.7", 28)
    assert doc.extras_of("celery") == {"redis"}  # the project asks for celery[redis]
    assert doc.extras_of("kombu") == set()  # only celery's optional dependency


def test_lock_files_are_not_edited_and_bad_toml_is_a_parse_error() -> None:
    doc = lock('[[package]]\nname = "kombu"\nversion = "5.6.2"\n', "poetry.lock")
    assert doc.flavor == "poetry" and doc.settings() == {"kombu": "==5.6.2"}
    with pytest.raises(ValueError, match="written by its tool"):
        doc.set("kombu", "5.7.0")
    with pytest.raises(ParseError) as error:
        parse("python-lock", b'[[package]]\nname = "kombu\n', "uv.lock")
    assert error.value.line == 2
    with pytest.raises(ParseError):
        parse("python-lock", b"{not json", "Pipfile.lock")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_any_requirements_bytes_round_trip(data: bytes) -> None:
    assert parse("python-lock", data, "requirements.txt").dump() == data
