"""supervisord configs: lossless round trip, read as supervisord's configparser reads them."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import merge, parse
from remediate.formats.supervisord_conf import SupervisordDocument

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "supervisord"


def supervisor_reads(data: bytes) -> dict[str, str]:
    """What supervisor's UnhosedConfigParser (a RawConfigParser with ';' and '#' inline
    comments, strict=False) reads: the oracle."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    parser.read_string(data.decode())
    return {
        f"{section}.{key}": value
        for section in parser.sections()
        for key, value in parser.items(section)
    }


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda p: p.name)
def test_fixtures_round_trip_and_read_like_supervisor(path: Path) -> None:
    data = path.read_bytes()
    doc = parse("supervisord", data, str(path))
    assert doc.dump() == data
    assert doc.settings() == supervisor_reads(data)


def test_continuations_inline_comments_and_keys() -> None:
    doc = parse("supervisord", (FIXTURES / "supervisord.conf").read_bytes(), "supervisord.conf")
    settings = doc.settings()
    assert settings["program:celery.command"] == (
        "/srv/app/venv/bin/celery -A app worker\n--loglevel=INFO\n--concurrency=4"
    )
    assert settings["program:celery.autorestart"] == "unexpected"
    assert doc.line_of("program:celery.autorestart") == 28
    assert doc.line_of("program:celery") == 21


def test_edits_touch_one_line_and_merge_adds_to_the_section() -> None:
    data = (FIXTURES / "supervisord.conf").read_bytes()
    live = parse("supervisord", data, "supervisord.conf")
    desired = parse("supervisord", b"[program:celery]\nautorestart=true\nstartsecs=10\n", "t")
    new, changes = merge(live, desired)
    before, after = data.decode().splitlines(), new.dump().decode().splitlines()
    assert after[27] == "autorestart : true" and len(after) == len(before) + 1
    assert after[30:32] == ["killasgroup=true", "startsecs=10"]  # the section's end
    assert after[:27] == before[:27] and after[32:] == before[31:]
    assert [c.setting for c in changes] == [
        "program:celery.autorestart",
        "program:celery.startsecs",
    ]
    assert supervisor_reads(new.dump())["program:celery.autorestart"] == "true"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (b"command=celery worker\n[program:x]\n", 1),
        (b"[program:x]\nnot a setting\n", 2),
    ],
)
def test_what_supervisor_refuses(text: bytes, line: int) -> None:
    with pytest.raises(ParseError) as error:
        parse("supervisord", text, "bad.conf")
    assert error.value.line == line
    with pytest.raises(configparser.Error):
        supervisor_reads(text)


_KEYS = st.sampled_from(["command", "autorestart", "Autostart", "numprocs", "user"])
_VALUES = st.text(alphabet="abc =:;#/-_.", max_size=12).map(str.strip)
_LINES = st.one_of(
    st.builds(
        lambda k, v, sep: f"{k}{sep}{v}", _KEYS, _VALUES, st.sampled_from(["=", " = ", ": ", ":"])
    ),
    st.sampled_from(["", "; comment", "# comment", "  ; indented comment"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["program:a", "program:b", "supervisord"]), st.lists(_LINES, max_size=5)
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
def test_generated_files_round_trip_and_agree_with_configparser(
    sections: list[tuple[str, list[str]]], newline: str
) -> None:
    text = newline.join(f"[{name}]{newline}" + newline.join(lines) for name, lines in sections)
    data = text.encode()
    doc = parse("supervisord", data, "gen.conf")
    assert isinstance(doc, SupervisordDocument) and doc.dump() == data
    expected = supervisor_reads(data.replace(b"\r\n", b"\n"))
    assert {k: v.replace("\r", "") for k, v in doc.settings().items()} == expected
