"""/etc/default files and rabbitmq-env.conf: lossless round trip, what the sourcing shell
really sets (checked against bash), edits that keep the quoting style, the seed merge."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.shell_env import ShellDocument
from tests.format_diffs import files, unified
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "shell"
SEED = b"ulimit -n 65536\n"
BASH = shutil.which("bash")
BROKEN = {"unterminated.default"}


def shell(text: str, path: str = "rabbitmq-server") -> ShellDocument:
    doc = parse("shell", text.encode(), path)
    assert isinstance(doc, ShellDocument)
    return doc


def sourced_by_bash(path: Path, names: list[str]) -> tuple[dict[str, str], tuple[str, str]]:
    """What bash holds after sourcing ``path``: the named variables, and ulimit -Sn/-Hn."""
    assert BASH
    script = (
        '. "$0" >/dev/null 2>&1; for n in "$@"; do printf "%s\\0" "${!n}"; done; '
        'printf "%s\\0" "$(ulimit -Sn)" "$(ulimit -Hn)"'
    )
    run = subprocess.run(
        ["env", "-i", BASH, "-c", script, str(path), *names],
        capture_output=True,
        timeout=60,
        check=True,
    )
    values = run.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    return dict(zip(names, values, strict=False)), (values[-2], values[-1])


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "shell"), ids=lambda p: p.name)
def test_corpus_file_round_trips_and_is_clean(path: Path) -> None:
    data = path.read_bytes()
    doc = parse("shell", data, str(path))
    assert doc.dump() == data
    assert doc.problems == []


@pytest.mark.parametrize("path", files(CORPUS / "templated" / "shell"), ids=lambda p: p.name)
def test_templated_file_round_trips_or_fails_with_one_parse_error(path: Path) -> None:
    data = path.read_bytes()
    try:
        doc = parse("shell", data, str(path))
    except ParseError as error:
        assert error.path == str(path) and error.line
    else:
        assert doc.dump() == data


@pytest.mark.parametrize(
    "path", [p for p in files(FIXTURES) if p.name not in BROKEN], ids=lambda p: p.name
)
def test_fixture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    assert parse("shell", data, str(path)).dump() == data


def test_fixtures_cover_crlf_no_final_newline_tabs_and_non_ascii() -> None:
    blobs = [p.read_bytes() for p in files(FIXTURES)]
    assert any(b"\r\n" in b for b in blobs)
    assert any(not b.endswith(b"\n") for b in blobs)
    assert any(b"\t" in b for b in blobs)
    assert any(b"Konfiguration" in b and "—".encode() in b for b in blobs)


# -- semantics ------------------------------------------------------------------------


def test_what_the_sourcing_shell_sets_at_the_top_level() -> None:
    doc = parse("shell", (FIXTURES / "complex.default").read_bytes())
    assert isinstance(doc, ShellDocument)
    assert doc.settings() == {
        "CELERYD_NODES": "w1 w2",
        "CELERY_BIN": "/srv/app/venv/bin/celery",
        "CELERYD_OPTS": "--time-limit=300",
        "CELERYD_LOG_LEVEL": "INFO",  # not the conditional "&& ...=DEBUG"
        "CELERYD_USER": "celery",  # not "nobody" from inside the if block
        "CELERYD_CHDIR": "${APP_ROOT:-/srv/app}",  # expansions are kept, never run
        "ERL_FLAGS": "+P 512000\n  +K true",
        "PIDFILE": '$(echo "/run/celery.pid")',
        "ulimit -n": "8192",
    }
    assert doc.effective_nofile() == ("2048", "8192")
    assert doc.current("ulimit -n") == "soft 2048, hard 8192"
    assert doc.current("ulimit -Sn") == "2048"
    assert dict(doc.managed_items())["ulimit -Hn"] == "8192"
    assert doc.line_of("ERL_FLAGS") == 7
    assert doc.line_of("ulimit -n") == 12 and doc.line_of("ulimit -Sn") == 11
    assert doc.problems == []


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@pytest.mark.parametrize(
    "path",
    [*files(CORPUS / "shell"), *[p for p in files(FIXTURES) if p.name not in BROKEN]],
    ids=lambda p: p.name,
)
def test_settings_are_what_bash_holds_after_sourcing_the_file(path: Path) -> None:
    doc = parse("shell", path.read_bytes())
    assert isinstance(doc, ShellDocument)
    literal = {
        a.name: a.value for a in doc.assignments if "$" not in a.value and "`" not in a.value
    }
    values, (soft, hard) = sourced_by_bash(path, sorted(literal))
    if any("CRLF" in p.reason for p in doc.problems):  # bash keeps the CR in each value
        assert values == {name: value + "\r" for name, value in literal.items()}
        return
    assert values == literal
    want_soft, want_hard = doc.effective_nofile()
    if want_soft is not ABSENT:
        assert soft == want_soft
    if want_hard is not ABSENT:
        assert hard == want_hard


def test_commented_out_ulimit_and_assignment_are_absent() -> None:
    for name in (
        "rabbitmq__rabbitmq-server__rabbitmq-server.default",
        "ctrochalakis__pkg-redis__redis-server.default",
    ):
        doc = parse("shell", (CORPUS / "shell" / name).read_bytes())
        assert doc.settings() == {}
        assert doc.current("ulimit -n") is ABSENT
        assert doc.line_of("ULIMIT") is None


def test_ulimit_forms() -> None:
    def nofile(line: str) -> tuple:
        doc = shell(line + "\n")
        return doc.managed_items(), doc.effective_nofile()

    assert nofile("ulimit -n 1024") == ([("ulimit -n", "1024")], ("1024", "1024"))
    assert nofile("ulimit -S -n 10") == ([("ulimit -Sn", "10")], ("10", ABSENT))
    assert nofile("ulimit -Hn unlimited") == ([("ulimit -Hn", "unlimited")], (ABSENT, "unlimited"))
    assert nofile("ulimit -n -S 100") == ([("ulimit -Sn", "100")], ("100", ABSENT))
    assert nofile("ulimit -SH -n 7 -c 0") == ([("ulimit -n", "7")], ("7", "7"))
    assert nofile("ulimit -c unlimited") == ([], (ABSENT, ABSENT))
    assert nofile("ulimit -n") == ([], (ABSENT, ABSENT))  # a query
    assert nofile("ulimit 1024") == ([], (ABSENT, ABSENT))  # the file size limit
    assert nofile('ulimit -n "$MAX"') == ([("ulimit -n", "$MAX")], ("$MAX", "$MAX"))


def test_commands_the_sourcing_shell_does_not_run_unconditionally_are_ignored() -> None:
    doc = shell(
        "A=1 | cat\n"
        "true && B=1\n"
        "false || C=1\n"
        "D=1 &\n"
        "( E=1 )\n"
        "{ F=1; }\n"
        "case $x in\n  a) G=1 ;;\n  (b|c) H=1 ;;\nesac\n"
        "while read I; do J=1; done < /dev/null\n"
        "function k { K=1; }\n"
        "l() ( L=1 )\n"
        "M=1 N=2 && cmd\n"
        "O=1 cmd\n"
        "export P Q=2\n"
    )
    assert doc.settings() == {"M": "1", "N": "2", "Q": "2"}
    assert doc.problems == []


def test_unclosed_blocks_and_crlf_are_problems() -> None:
    doc = parse("shell", (FIXTURES / "unclosed-if.default").read_bytes())
    assert [(p.line, p.reason) for p in doc.problems] == [
        (
            1,
            (
                "'if' is never closed with 'fi': the shell stops reading the file here with a "
                "syntax error"
            ),
        )
    ]
    assert doc.settings() == {}
    assert [p.line for p in shell("fi\n").problems] == [1]
    crlf = parse("shell", (FIXTURES / "crlf.default").read_bytes())
    assert [(p.line, "CRLF" in p.reason) for p in crlf.problems] == [(1, True)]


def test_nothing_after_a_syntax_error_counts_and_nothing_is_appended_there() -> None:
    doc = shell("A=1\nfi\nB=2\n")  # bash stops at the stray "fi": B is never set
    assert doc.settings() == {"A": "1"}
    assert [(p.line, p.reason) for p in doc.problems] == [
        (2, "unexpected 'fi': the shell stops reading the file here with a syntax error")
    ]
    assert doc.set("A", "3").lines == (1, 1)  # editing before the error is fine
    with pytest.raises(ParseError) as caught:
        doc.set("C", "1")
    assert (caught.value.path, caught.value.line) == ("rabbitmq-server", 2)
    assert "appended at the end would never run" in caught.value.message
    assert [p.line for p in shell("cat >\nA=1\n").problems] == [1]  # redirection, no target


def test_an_open_here_document_swallows_the_end_of_the_file() -> None:
    doc = shell("A=1\ncat <<EOF\nB=2\n")
    assert doc.settings() == {"A": "1"}
    with pytest.raises(ParseError) as caught:
        doc.set("ulimit -n", "65536")
    assert caught.value.line == 2 and "here-document" in caught.value.message


def test_a_trailing_backslash_continuation_is_ended_before_appending() -> None:
    doc = shell("ulimit -n 1024 \\\n")
    doc.set("NODENAME", "rabbit")
    assert doc.dump().decode() == (
        f"ulimit -n 1024 \\\n\n# {MANAGED_BEGIN}\nNODENAME=rabbit\n# {MANAGED_END}\n"
    )
    assert doc.settings() == {"NODENAME": "rabbit", "ulimit -n": "1024"}
    with pytest.raises(ParseError) as caught:
        shell("cat >\\").set("A", "1")  # ending the line would leave ">" without a target
    assert caught.value.line == 1 and "backslash" in caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (b'NODENAME=rabbit\nERL_FLAGS="+P 512000\nNODE_PORT=5672\n', 2, "double quote"),
        (b"# ok\nA='it''s\n", 2, "single quote"),
        (b"A=$(date\n", 1, "$(...)"),
        (b"A=1\n\nB=${X:-\n", 3, "${...}"),
        (b"A=`date\n", 1, "backquote"),
        (b"A=$'x\n", 1, "$'...' quote"),
    ],
)
def test_unterminated_quotes_are_parse_errors_naming_file_line_and_reason(
    text: bytes, line: int, what: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse("shell", text, "/etc/default/rabbitmq-server")
    error = caught.value
    assert (error.path, error.line) == ("/etc/default/rabbitmq-server", line)
    assert str(error) == (
        f"/etc/default/rabbitmq-server:{line}: unterminated {what}: "
        f"the shell cannot source the file"
    )


def test_the_broken_fixture_fails_on_the_quote_line() -> None:
    with pytest.raises(ParseError) as caught:
        parse("shell", (FIXTURES / "unterminated.default").read_bytes(), "unterminated.default")
    assert caught.value.line == 2


# -- edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "value", "expected"),
    [
        ('A="x y"', "65536", 'A="65536"'),
        ("A='x y'", "a b", "A='a b'"),
        ("A='x'", "it's", 'A="it\'s"'),
        ("A=x", "plain", "A=plain"),
        ("A=x", "two words", 'A="two words"'),
        ("A=x", 'say "hi" \\o/', 'A="say \\"hi\\" \\\\o/"'),
        ("export A=x  # note", "y", "export A=y  # note"),
        ("A=1 B=2\tC=3", "20", "A=1 B=20\tC=3"),
        ("ulimit -n 1024 # raise", "65536", "ulimit -n 65536 # raise"),
    ],
)
def test_set_changes_only_the_value_and_keeps_the_quoting_style(
    line: str, value: str, expected: str
) -> None:
    key = "ulimit -n" if line.startswith("ulimit") else ("B" if "B=" in line else "A")
    doc = shell(line + "\n")
    edit = doc.set(key, value)
    assert doc.dump().decode() == expected + "\n"
    assert edit.lines == (1, 1)
    assert shell(expected + "\n").settings()[key] == value


def test_set_edits_the_effective_duplicate_and_says_so() -> None:
    doc = shell("A=1\nA=2\n")
    assert (
        doc.set("A", "3").note == "defined twice (lines 1 and 2): edited the effective one, line 2"
    )
    assert doc.dump() == b"A=1\nA=3\n"


def test_set_ulimit_over_a_soft_only_line_appends_one_that_sets_both() -> None:
    doc = shell("ulimit -S -n 1024\n")
    edit = doc.set("ulimit -n", "65536")
    assert doc.dump().decode() == (
        f"ulimit -S -n 1024\n# {MANAGED_BEGIN}\nulimit -n 65536\n# {MANAGED_END}\n"
    )
    assert "line 1 sets the soft open-file limit" in edit.note
    assert doc.current("ulimit -n") == "65536"


def test_remove() -> None:
    doc = shell("export A=1  # c\nB=2 A=3\nA=4; B=5\nulimit -n 10\nulimit -S -n 5 -c 0\n")
    assert doc.remove("A") is not None
    assert doc.dump() == b"B=2 \n:; B=5\nulimit -n 10\nulimit -S -n 5 -c 0\n"
    assert doc.remove("ulimit -n") is not None
    assert doc.dump() == b"B=2 \n:; B=5\nulimit -S -c 0\n"
    assert doc.remove("A") is None


# -- the seed fix ---------------------------------------------------------------------


def seed_merge(path: Path) -> tuple[str, list]:
    live = parse("shell", path.read_bytes(), path.name)
    new, changes = merge(live, parse("shell", SEED))
    again, second = merge(new, parse("shell", SEED))
    assert second == [] and again.dump() == new.dump()
    assert isinstance(new, ShellDocument)
    assert new.effective_nofile() == ("65536", "65536")
    return unified(path.name, path.read_bytes(), new.dump()), changes


def test_seed_fix_into_the_debian_rabbitmq_server_default() -> None:
    path = CORPUS / "shell" / "rabbitmq__rabbitmq-server__rabbitmq-server.default"
    diff, changes = seed_merge(path)
    assert diff == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -7,3 +7,6 @@\n"
        " # documentation for ulimit (in man bash) for more information.\n"
        " #\n"
        " #ulimit -n 1024\n"
        f"+# {MANAGED_BEGIN}\n"
        "+ulimit -n 65536\n"
        f"+# {MANAGED_END}\n"
    )
    assert [(c.kind, c.setting, c.old, c.new, c.lines) for c in changes] == [
        ("shell", "ulimit -n", ABSENT, "65536", (11, 11))
    ]


def test_seed_fix_edits_an_existing_ulimit_in_place() -> None:
    diff, changes = seed_merge(FIXTURES / "no-final-newline.default")
    assert diff == (
        "--- a/no-final-newline.default\n+++ b/no-final-newline.default\n"
        "@@ -1,2 +1,2 @@\n"
        " # no newline at the end\n"
        "-ulimit -n 1024\n"
        "\\ No newline at end of file\n"
        "+ulimit -n 65536\n"
        "\\ No newline at end of file\n"
    )
    assert [(c.old, c.lines) for c in changes] == [("1024", (2, 2))]


def test_seed_fix_over_soft_and_hard_lines_appends_after_them() -> None:
    diff, changes = seed_merge(FIXTURES / "complex.default")
    assert diff.endswith(
        "@@ -23,3 +23,6 @@\n"
        ' \tULIMIT="not a setting\n'
        " \tEOF\n"
        ' PIDFILE=$(echo "/run/celery.pid")\n'
        f"+# {MANAGED_BEGIN}\n"
        "+ulimit -n 65536\n"
        f"+# {MANAGED_END}\n"
    )
    assert changes[0].old == "soft 2048, hard 8192"


def test_merge_keeps_crlf_and_quoting() -> None:
    live = parse("shell", (FIXTURES / "crlf.default").read_bytes())
    new, changes = merge(live, shell("NODENAME=rabbit@x\nNEW='a b'\nulimit -n 65536\n"))
    assert new.dump() == (
        b"# /etc/default/rabbitmq-server from a Windows editor\r\n"
        b"ulimit -n 65536\r\nNODENAME=rabbit@x\r\n"
        + f'# {MANAGED_BEGIN}\r\nNEW="a b"\r\n# {MANAGED_END}\r\n'.encode()
    )
    assert [(c.setting, c.lines) for c in changes] == [
        ("NODENAME", (3, 3)),
        ("NEW", (5, 5)),
        ("ulimit -n", (2, 2)),
    ]


# -- generated inputs -----------------------------------------------------------------

TEXT = st.text(
    alphabet=st.sampled_from(list("AB=ulimt -nSH0123'\"\\$(){}`#;&|<>\n\r\t ifthenfé")),
    max_size=200,
)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_any_text_round_trips_or_fails_with_a_line(text: str) -> None:
    data = text.encode()
    try:
        doc = parse("shell", data, "f")
    except ParseError as error:
        assert error.path == "f" and error.line and error.message.startswith("unterminated")
    else:
        assert doc.dump() == data


VALUES = st.text(alphabet=st.sampled_from(list("ab 1-/.'\"\\é")), max_size=12)
STYLES = st.sampled_from(["bare", "single", "double"])


def written(value: str, style: str) -> str:
    if style == "single" and "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), VALUES, STYLES), max_size=6),
    VALUES,
    st.sampled_from(["A", "D"]),
)
def test_generated_assignments_model_and_idempotent_merge(
    assignments: list, new_value: str, key: str
) -> None:
    text = "".join(f"{k}={written(v, s)}\n" for k, v, s in assignments)
    doc = shell(text)
    assert doc.settings() == {k: v for k, v, _ in assignments}
    desired = shell(f"{key}={written(new_value, 'double')}\n")
    new, _ = merge(doc, desired)
    assert new.settings()[key] == new_value
    assert merge(new, desired)[1] == []
    assert parse("shell", new.dump()).dump() == new.dump()
