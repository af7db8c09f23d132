"""limits.conf / limits.d: lossless round trip, pam_limits semantics, edits and the seed merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.limits_conf import LimitsDocument
from tests.format_diffs import files, unified
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "limits"
SEED = b"rabbitmq - nofile 65536\n"


def limits(text: str, path: str = "limits.conf") -> LimitsDocument:
    doc = parse("limits", text.encode(), path)
    assert isinstance(doc, LimitsDocument)
    return doc


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "limits"), ids=lambda p: p.name)
def test_corpus_file_round_trips_and_is_clean(path: Path) -> None:
    data = path.read_bytes()
    doc = parse("limits", data, str(path))
    assert doc.dump() == data
    assert doc.problems == []  # real, working files: every row is one pam_limits applies
    assert doc.settings()


def test_templated_files_round_trip_or_fail_with_one_parse_error() -> None:
    # the corpus has no templated limits files today; any added later are checked here
    for path in files(CORPUS / "templated" / "limits"):
        data = path.read_bytes()
        try:
            doc = parse("limits", data, str(path))
        except ParseError as error:
            assert error.path == str(path) and error.line
        else:
            assert doc.dump() == data


@pytest.mark.parametrize("path", files(FIXTURES), ids=lambda p: p.name)
def test_fixture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    assert parse("limits", data, str(path)).dump() == data


def test_fixtures_cover_crlf_no_final_newline_tabs_and_non_ascii() -> None:
    blobs = [p.read_bytes() for p in files(FIXTURES)]
    assert any(b"\r\n" in b for b in blobs)
    assert any(not b.endswith(b"\n") for b in blobs)
    assert any(b"\t" in b for b in blobs)
    assert any("最大".encode() in b for b in blobs)
    assert any(b"caf\xe9" in b for b in blobs)  # not UTF-8 at all


def test_iusrepo_redis_limit_init_is_a_limits_d_fragment() -> None:
    # installed as /etc/security/limits.d/95-redis.conf on SysV-init hosts (redis.spec)
    doc = parse("limits", (CORPUS / "limits" / "iusrepo__redis6__redis-limit-init").read_bytes())
    assert doc.settings() == {"redis soft nofile": "10240", "redis hard nofile": "10240"}
    assert isinstance(doc, LimitsDocument)
    assert doc.effective("redis", "nofile") == ("10240", "10240")


# -- semantics ------------------------------------------------------------------------


def test_dash_sets_soft_and_hard_and_a_later_row_wins() -> None:
    doc = limits(
        "rabbitmq - nofile 1024\n"
        "rabbitmq hard nofile 4096\n"
        "* soft nofile 512\n"
        "rabbitmq - nproc unlimited\n"
    )
    assert doc.effective("rabbitmq", "nofile") == ("1024", "4096")
    assert doc.effective("rabbitmq", "nproc") == ("unlimited", "unlimited")
    assert doc.effective("*", "nofile") == ("512", ABSENT)
    assert doc.effective("nobody", "nofile") == (ABSENT, ABSENT)
    assert doc.current("rabbitmq - nofile") == "soft 1024, hard 4096"
    assert doc.current("rabbitmq hard nofile") == "4096"
    assert doc.current("* - nofile") == "soft 512, hard unset"
    assert doc.current("rabbitmq - nproc") == "unlimited"


def test_rows_read_like_pam_limits() -> None:
    doc = limits(
        "   *\tSOFT\tNOFILE   1024   # inline comment\n"
        "#@staff hard nofile 1\n"
        "@staff hard nofile 2048#no blank before the comment\n"
        "@staff soft core 0\n"
        "@staff soft core 100\n"
        "joe - maxlogins 4\n"
        "joe -\n"
    )
    assert doc.settings() == {
        "* soft nofile": "1024",
        "@staff hard nofile": "2048",
        "@staff soft core": "100",
        "joe - maxlogins": "4",
    }
    assert doc.line_of("* soft nofile") == 1
    assert doc.line_of("@staff soft core") == 5
    assert doc.line_of("@staff - core") is None
    assert doc.problems == []  # "joe -" is pam's valid "no limits for joe" line


def test_rows_pam_limits_skips_are_problems_not_errors() -> None:
    doc = parse("limits", (FIXTURES / "problems.conf").read_bytes(), "problems.conf")
    found = {p.line: p.reason for p in doc.problems}
    assert sorted(found) == [2, 3, 4, 5, 6, 7]
    assert "found 3 field(s)" in found[2]
    assert "unknown limit item 'nofiles'" in found[3]
    assert "unknown limit type 'medium'" in found[4]
    assert "rejects the value 'lots'" in found[5]
    assert "invalid uid range '@1000:abc'" in found[6]
    assert "'%' domain" in found[7]
    assert doc.settings() == {"rabbitmq hard nofile": "4096"}


def test_crlf_word_value_is_a_problem_because_pam_keeps_the_cr() -> None:
    doc = parse("limits", (FIXTURES / "crlf.conf").read_bytes(), "crlf.conf")
    assert [(p.line, "CR" in p.reason) for p in doc.problems] == [(4, True)]
    assert doc.settings() == {"rabbitmq soft nofile": "4096", "rabbitmq hard nofile": "8192"}


def test_unlimited_spellings_are_the_same_except_for_priority_and_nice() -> None:
    doc = limits("* - nofile unlimited\n")
    assert doc.same("* - nofile", "unlimited", "INFINITY")
    assert doc.same("* hard nproc", "-1", "unlimited")
    assert not doc.same("* - priority", "-1", "unlimited")
    assert not doc.same("* - nofile", "65536", "65535")
    assert merge(doc, limits("* - nofile infinity\n"))[1] == []


def test_parse_error_names_file_line_and_reason() -> None:
    with pytest.raises(ParseError) as caught:
        parse("limits", b"* soft nofile 1024\n\x00\x01binary\n", "/etc/security/limits.conf")
    error = caught.value
    assert (error.path, error.line) == ("/etc/security/limits.conf", 2)
    assert str(error) == "/etc/security/limits.conf:2: contains a NUL byte: not a text config file"


# -- edits ----------------------------------------------------------------------------


def test_set_replaces_only_the_value_token() -> None:
    path = CORPUS / "limits" / "VirtuBox__ubuntu-nginx-web-server__limits.conf"
    doc = parse("limits", path.read_bytes(), path.name)
    edit = doc.set("* hard nofile", "1048576")
    assert edit.lines == (57, 57) and edit.note == ""
    assert unified(path.name, path.read_bytes(), doc.dump()) == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -54,7 +54,7 @@\n"
        " #@student        -       maxlogins       4\n"
        " \n"
        " # End of file\n"
        "-*         hard    nofile      500000\n"
        "+*         hard    nofile      1048576\n"
        " *         soft    nofile      500000\n"
        " root      hard    nofile      500000\n"
        " root      soft    nofile      500000\n"
    )


def test_set_edits_the_effective_duplicate_and_says_so() -> None:
    doc = limits("* soft nofile 1\n* soft nofile 2\n")
    edit = doc.set("* soft nofile", "3")
    assert doc.dump() == b"* soft nofile 1\n* soft nofile 3\n"
    assert edit.note == "defined twice (lines 1 and 2): edited the effective one, line 2"


def test_set_soft_after_a_dash_row_appends_instead_of_changing_hard() -> None:
    doc = limits("r - nofile 1024\n")
    edit = doc.set("r soft nofile", "2048")
    assert (
        doc.dump()
        == (f"r - nofile 1024\n# {MANAGED_BEGIN}\nr soft nofile 2048\n# {MANAGED_END}\n").encode()
    )
    assert edit.lines == (3, 3) and "line 1 sets 'r - nofile'" in edit.note
    assert doc.effective("r", "nofile") == ("2048", "1024")


def test_empty_file_gets_the_row_without_markers() -> None:
    doc = limits("")
    doc.set("rabbitmq - nofile", "65536")
    assert doc.dump() == b"rabbitmq - nofile 65536\n"


def test_a_second_append_reuses_the_managed_block() -> None:
    doc = limits("* soft core 0")
    doc.set("a - nofile", "1")
    doc.set("b - nofile", "2")
    assert doc.dump().decode() == (
        f"* soft core 0\n# {MANAGED_BEGIN}\na - nofile 1\nb - nofile 2\n# {MANAGED_END}\n"
    )


def test_remove_deletes_every_row_of_the_key() -> None:
    doc = limits("a soft nofile 1\nb soft nofile 2\na soft nofile 3\n")
    assert doc.remove("a soft nofile") is not None
    assert doc.dump() == b"b soft nofile 2\n"
    assert doc.remove("a soft nofile") is None


def test_bad_keys_and_values_are_refused() -> None:
    doc = limits("")
    with pytest.raises(ValueError):
        doc.set("rabbitmq nofile", "1")
    with pytest.raises(ValueError):
        doc.set("rabbitmq - nofile", "1 # sneaky")


# -- the seed fix ---------------------------------------------------------------------


def seed_merge(path: Path) -> tuple[str, list]:
    live = parse("limits", path.read_bytes(), path.name)
    new, changes = merge(live, parse("limits", SEED))
    again, second = merge(new, parse("limits", SEED))
    assert second == [] and again.dump() == new.dump()
    assert isinstance(new, LimitsDocument)
    assert new.effective("rabbitmq", "nofile") == ("65536", "65536")
    return unified(path.name, path.read_bytes(), new.dump()), changes


def test_seed_fix_appends_a_marked_row_to_a_real_limits_conf() -> None:
    path = CORPUS / "limits" / "VirtuBox__ubuntu-nginx-web-server__limits.conf"
    diff, changes = seed_merge(path)
    assert diff == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -59,3 +59,6 @@\n"
        " root      hard    nofile      500000\n"
        " root      soft    nofile      500000\n"
        " \n"
        f"+# {MANAGED_BEGIN}\n"
        "+rabbitmq  -       nofile      65536\n"
        f"+# {MANAGED_END}\n"
    )
    assert [(c.setting, c.old, c.new, c.lines) for c in changes] == [
        ("rabbitmq - nofile", ABSENT, "65536", (63, 63))
    ]


def test_seed_fix_edits_an_existing_dash_row_in_place_keeping_its_comment() -> None:
    path = FIXTURES / "rabbitmq-dash.conf"
    diff, changes = seed_merge(path)
    assert diff == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -1,3 +1,3 @@\n"
        " # /etc/security/limits.d/rabbitmq.conf\n"
        "-rabbitmq        -       nofile         1024   # raised by hand\n"
        "+rabbitmq        -       nofile         65536   # raised by hand\n"
        " rabbitmq        -       nproc          4096\n"
    )
    assert [(c.old, c.lines, c.note) for c in changes] == [("1024", (2, 2), "")]


def test_seed_fix_over_separate_soft_and_hard_rows_appends_one_that_wins() -> None:
    path = FIXTURES / "rabbitmq-soft-hard.conf"
    diff, changes = seed_merge(path)
    assert diff == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -2,3 +2,6 @@\n"
        " #<domain>      <type>  <item>         <value>\n"
        " rabbitmq        soft    nofile         1024\n"
        " rabbitmq        hard    nofile         4096\n"
        f"+# {MANAGED_BEGIN}\n"
        "+rabbitmq        -       nofile         65536\n"
        f"+# {MANAGED_END}\n"
    )
    assert changes[0].old == "soft 1024, hard 4096"
    assert changes[0].note == (
        "line 4 sets 'rabbitmq hard nofile'; appended a line after it that takes effect instead"
    )


def test_seed_fix_keeps_crlf_and_tab_layout() -> None:
    crlf, _ = seed_merge(FIXTURES / "crlf.conf")
    assert "+rabbitmq  -     nofile  65536\r\n" in crlf
    assert f"+# {MANAGED_END}\r\n" in crlf
    tabs, _ = seed_merge(FIXTURES / "no-final-newline.conf")
    assert tabs == (
        "--- a/no-final-newline.conf\n+++ b/no-final-newline.conf\n"
        "@@ -1,2 +1,5 @@\n"
        " # no newline at the end\n"
        "-*\t-\tnofile\t65536\n"
        "\\ No newline at end of file\n"
        "+*\t-\tnofile\t65536\n"
        f"+# {MANAGED_BEGIN}\n"
        "+rabbitmq\t-\tnofile\t65536\n"
        f"+# {MANAGED_END}\n"
    )


# -- generated inputs -----------------------------------------------------------------

TEXT = st.text(
    alphabet=st.sampled_from(list(" \t\n\r#*@%:-0123456789abnofilsthrdué最")), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_any_text_round_trips(text: str) -> None:
    data = text.encode()
    assert parse("limits", data).dump() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_round_trip_or_fail_cleanly(data: bytes) -> None:
    try:
        doc = parse("limits", data, "f.conf")
    except ParseError as error:
        assert b"\0" in data and error.path == "f.conf" and error.line
    else:
        assert doc.dump() == data


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["*", "rabbitmq", "@celery"]),
        st.sampled_from(["soft", "hard", "-"]),
        st.sampled_from(["nofile", "nproc"]),
        st.sampled_from(["1024", "65536", "unlimited"]),
        st.sampled_from([" ", "\t", "   "]),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(ROWS, st.sampled_from(["soft", "hard", "-"]), st.sampled_from(["\n", "\r\n"]))
def test_generated_rows_model_and_idempotent_merge(rows: list, type_: str, newline: str) -> None:
    text = "".join(sep.join([d, t, i, v]) + newline for d, t, i, v, sep in rows)
    doc = limits(text)
    soft, hard = ABSENT, ABSENT
    for d, t, i, v, _ in rows:
        if newline == "\r\n" and v == "unlimited":
            continue  # pam_limits reads "unlimited\r" and skips the row
        if (d, i) == ("rabbitmq", "nofile"):
            soft = v if t in ("soft", "-") else soft
            hard = v if t in ("hard", "-") else hard
    assert doc.effective("rabbitmq", "nofile") == (soft, hard)
    desired = limits(f"rabbitmq {type_} nofile 4096\n")
    new, _ = merge(doc, desired)
    assert new.current(f"rabbitmq {type_} nofile") == "4096"
    assert merge(new, desired)[1] == []
    if rows and newline == "\r\n":  # new lines follow the file's line ends
        assert b"\n" not in new.dump().replace(b"\r\n", b"")
