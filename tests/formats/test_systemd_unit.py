"""systemd units and drop-ins: lossless round trip, systemd's parsing rules, edits, seed merges."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.systemd_unit import UnitDocument
from tests.format_diffs import files, unified
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "systemd"
SEED = b"[Service]\nLimitNOFILE=65536\n"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit(text: str, path: str = "x.service") -> UnitDocument:
    doc = parse("systemd", text.encode(), path)
    assert isinstance(doc, UnitDocument)
    return doc


def systemd_complaints(tmp_path: Path, data: bytes) -> dict[int, str]:
    """What ``systemd-analyze verify`` says about the lines of ``data`` (line -> message)."""
    assert SYSTEMD_ANALYZE
    target = tmp_path / "probe.service"
    target.write_bytes(data)
    run = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.findall(rf"^{re.escape(str(target))}:(\d+): (.*)$", run.stderr, re.MULTILINE)
    return {int(line): message for line, message in found}


needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "systemd"), ids=lambda p: p.name)
def test_corpus_file_round_trips_and_is_clean(path: Path) -> None:
    data = path.read_bytes()
    doc = parse("systemd", data, str(path))
    assert doc.dump() == data
    assert doc.problems == []
    assert re.fullmatch(r"\d+", doc.settings()["Service.LimitNOFILE"])


@pytest.mark.parametrize("path", files(CORPUS / "templated" / "systemd"), ids=lambda p: p.name)
def test_templated_file_round_trips_or_fails_with_one_parse_error(path: Path) -> None:
    data = path.read_bytes()
    try:
        doc = parse("systemd", data, str(path))
    except ParseError as error:
        assert error.path == str(path) and error.line
    else:
        assert doc.dump() == data


def test_erb_conditional_before_the_key_is_a_true_finding() -> None:
    path = CORPUS / "templated" / "systemd" / "getaroom__chef-rabbitmq__limits.conf.erb"
    doc = parse("systemd", path.read_bytes(), path.name)
    assert [(p.line, "is not a systemd key" in p.reason) for p in doc.problems] == [(2, True)]
    assert doc.settings() == {}


@pytest.mark.parametrize(
    "path", [p for p in files(FIXTURES) if p.name != "bad-header.conf"], ids=lambda p: p.name
)
def test_fixture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    assert parse("systemd", data, str(path)).dump() == data


def test_fixtures_cover_crlf_no_final_newline_tabs_and_non_ascii() -> None:
    blobs = [p.read_bytes() for p in files(FIXTURES)]
    assert any(b"\r\n" in b for b in blobs)
    assert any(not b.endswith(b"\n") for b in blobs)
    assert any(b"\t" in b for b in blobs)
    assert any("🥬".encode() in b for b in blobs)


# -- semantics ------------------------------------------------------------------------


def test_continuations_repeated_keys_resets_and_blanks_around_equals() -> None:
    doc = parse("systemd", (FIXTURES / "continuation.service").read_bytes())
    assert isinstance(doc, UnitDocument)
    found = doc.settings()
    assert found["Unit.After"] == "network-online.target        redis-server.service"
    assert found["Service.ExecStart"] == (
        "/srv/app/venv/bin/celery multi start w1  \t-A proj "
        "--pidfile=/run/celery/%n.pid  \t"
        "--logfile=/var/log/celery/%n%I.log"
    )
    assert found["Service.LimitNOFILE"] == "16384:32768"  # the later [Service] wins
    assert found["Service.Environment"] == '"A=1" "B=2"'
    assert found["Unit.Description"] == "Celery worker 🥬"
    assert doc.values("Service", "ExecStartPre") == ["/bin/true"]  # "ExecStartPre=" reset
    assert doc.line_of("Service.ExecStart") == 11
    assert doc.line_of("Service.LimitNOFILE") == 25
    assert doc.line_of("Service.TasksMax") is None
    assert doc.problems == []


def test_continuation_rules_match_systemd() -> None:
    doc = unit(
        "[Service]\n"
        "A=1 \\\n"
        "\n"  # a blank line ends a continuation
        "B=2 \\\n"
        "; skipped\n"  # a comment inside one is skipped
        "  3\n"
        "C=x \\  \n"  # a backslash followed by blanks does not continue
        "D=a\\\\\n"  # an escaped backslash does not either
        "E=last\\"
    )
    assert doc.settings() == {
        "Service.A": "1",
        "Service.B": "2    3",
        "Service.C": "x \\",
        "Service.D": "a\\\\",
        "Service.E": "last",
    }


@needs_systemd
def test_joined_values_are_the_values_systemd_reads(tmp_path: Path) -> None:
    # systemd echoes a resource value it cannot parse: a way to see what it joined
    text = (
        "[Service]\nExecStart=/bin/true\n"
        "LimitNOFILE=2 \\\n; skipped\n  3\n"
        "LimitCORE=x \\  \n"
        "LimitAS=a\\\\\n"
        "LimitRSS=1024 \\\n\t2048 \\\n[Install]\n"
        "LimitSTACK=last\\"
    )
    complaints = systemd_complaints(tmp_path, text.encode())
    echoed = sorted(m.split("ignoring: ", 1)[1] for m in complaints.values())
    ours = unit(text).settings()
    assert echoed == sorted(v for k, v in ours.items() if k.startswith("Service.Limit"))


def test_utf8_bom_is_skipped_like_systemd_does() -> None:
    doc = parse("systemd", b"\xef\xbb\xbf[Service]\nLimitNOFILE=1\n")
    assert doc.settings() == {"Service.LimitNOFILE": "1"}
    assert doc.dump() == b"\xef\xbb\xbf[Service]\nLimitNOFILE=1\n"


def test_lines_systemd_ignores_are_problems() -> None:
    doc = parse("systemd", (FIXTURES / "problems.conf").read_bytes(), "problems.conf")
    assert [(p.line, p.reason) for p in doc.problems] == [
        (1, "assignment outside of any section; systemd ignores it"),
        (3, "missing '='; systemd ignores the line"),
        (4, "missing key name before '='; systemd ignores the line"),
        (5, "'Bad Key' is not a systemd key in [Service]; systemd ignores it"),
    ]
    assert doc.settings() == {"Service.LimitNOFILE": "4096"}


@needs_systemd
def test_problem_lines_are_the_lines_systemd_complains_about(tmp_path: Path) -> None:
    data = (FIXTURES / "problems.conf").read_bytes()
    assert sorted(systemd_complaints(tmp_path, data)) == [
        p.line for p in parse("systemd", data).problems
    ]


def test_bad_section_header_is_a_parse_error_naming_file_line_and_reason() -> None:
    with pytest.raises(ParseError) as caught:
        parse("systemd", (FIXTURES / "bad-header.conf").read_bytes(), "limits.conf")
    error = caught.value
    assert (error.path, error.line) == ("limits.conf", 3)
    assert str(error) == (
        "limits.conf:3: invalid section header '[Install # not closed': "
        "systemd refuses to load the unit"
    )


@needs_systemd
def test_systemd_also_refuses_the_bad_header_on_that_line(tmp_path: Path) -> None:
    complaints = systemd_complaints(tmp_path, (FIXTURES / "bad-header.conf").read_bytes())
    assert "Invalid section header" in complaints[3]


def test_limit_values_compare_as_soft_hard_pairs() -> None:
    doc = unit("[Service]\nLimitNOFILE=65536:65536\nTasksMax=10\n")
    assert doc.same("Service.LimitNOFILE", "65536", "65536:65536")
    assert doc.same("Service.LimitCORE", "infinity", "INFINITY:infinity")
    assert not doc.same("Service.LimitNOFILE", "1024", "1024:4096")
    assert not doc.same("Service.TasksMax", "10", "10:10")
    assert merge(doc, unit("[Service]\nLimitNOFILE=65536\n"))[1] == []


# -- the seed fix ---------------------------------------------------------------------


def seed_merge(data: bytes, name: str) -> tuple[UnitDocument, list]:
    live = parse("systemd", data, name)
    new, changes = merge(live, parse("systemd", SEED))
    again, second = merge(new, parse("systemd", SEED))
    assert second == [] and again.dump() == new.dump()
    assert new.settings()["Service.LimitNOFILE"] == "65536"
    assert isinstance(new, UnitDocument)
    return new, changes


def test_seed_fix_into_a_new_empty_drop_in() -> None:
    new, changes = seed_merge(b"", "rabbitmq-server.service.d/limits.conf")
    assert new.dump() == b"[Service]\nLimitNOFILE=65536\n"
    assert [(c.kind, c.setting, c.old, c.new, c.lines) for c in changes] == [
        ("systemd", "Service.LimitNOFILE", ABSENT, "65536", (2, 2))
    ]


def test_seed_fix_into_a_drop_in_with_1024() -> None:
    path = FIXTURES / "limits-1024.conf"
    new, changes = seed_merge(path.read_bytes(), path.name)
    assert unified(path.name, path.read_bytes(), new.dump()) == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -1,2 +1,2 @@\n"
        " [Service]\n"
        "-LimitNOFILE=1024\n"
        "+LimitNOFILE=65536\n"
    )
    assert [(c.old, c.new, c.lines, c.note) for c in changes] == [("1024", "65536", (2, 2), "")]


def test_seed_fix_into_the_debian_rabbitmq_unit() -> None:
    path = CORPUS / "systemd" / "rabbitmq__rabbitmq-server__rabbitmq-server.service"
    new, changes = seed_merge(path.read_bytes(), path.name)
    assert unified(path.name, path.read_bytes(), new.dump()) == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -21,7 +21,7 @@\n"
        " # [Service]\n"
        " # LimitNOFILE=65536\n"
        " \n"
        "-LimitNOFILE=32768\n"
        "+LimitNOFILE=65536\n"
        " \n"
        " # The following setting will automatically restart RabbitMQ\n"
        " # in the event of a failure. systemd service restarts are not a\n"
    )
    assert [(c.old, c.lines) for c in changes] == [("32768", (24, 24))]


def test_missing_key_goes_to_the_end_of_the_last_service_section() -> None:
    path = CORPUS / "systemd" / "redis__redis__systemd-redis_server.service"
    live = parse("systemd", path.read_bytes(), path.name)
    desired = b"[Service]\nLimitCORE=0\nTasksMax=4096\n"
    new, changes = merge(live, parse("systemd", desired))
    assert unified(path.name, path.read_bytes(), new.dump()) == (
        f"--- a/{path.name}\n+++ b/{path.name}\n"
        "@@ -38,6 +38,10 @@\n"
        " #User=redis\n"
        " #Group=redis\n"
        " #WorkingDirectory=/var/lib/redis\n"
        f"+# {MANAGED_BEGIN}\n"
        "+LimitCORE=0\n"
        "+TasksMax=4096\n"
        f"+# {MANAGED_END}\n"
        " \n"
        " [Install]\n"
        " WantedBy=multi-user.target\n"
    )
    assert [c.lines for c in changes] == [(42, 42), (43, 43)]
    assert merge(new, parse("systemd", desired))[1] == []


@needs_systemd
def test_the_managed_block_is_valid_for_systemd(tmp_path: Path) -> None:
    path = CORPUS / "systemd" / "redis__redis__systemd-redis_server.service"
    new, _ = merge(
        parse("systemd", path.read_bytes()),
        parse("systemd", b"[Service]\nLimitCORE=0\n[Unit]\nFoo=1\n"),
    )
    assert set(systemd_complaints(tmp_path, new.dump()).values()) == {
        "Unknown key 'Foo' in section [Unit], ignoring."
    }


def test_a_missing_section_is_added_at_the_end_inside_the_block() -> None:
    doc = unit("# {{ ansible_managed }}\n[Unit]\nDescription=x")
    edit = doc.set("Service.LimitNOFILE", "65536")
    assert doc.dump().decode() == (
        "# {{ ansible_managed }}\n[Unit]\nDescription=x\n"
        f"# {MANAGED_BEGIN}\n[Service]\nLimitNOFILE=65536\n"
        f"# {MANAGED_END}\n"
    )
    assert edit.lines == (6, 6) and edit.note == "added section [Service]"
    doc.set("Service.LimitCORE", "0")  # goes into the block, after the new section's key
    assert doc.dump().decode().endswith(f"LimitNOFILE=65536\nLimitCORE=0\n# {MANAGED_END}\n")


def test_a_continuation_open_at_the_end_cannot_swallow_what_is_appended() -> None:
    doc = unit("[Service]\nExecStart=/bin/true \\\n# trailing comment\n")
    doc.set("Service.LimitNOFILE", "65536")
    assert doc.settings() == {"Service.ExecStart": "/bin/true", "Service.LimitNOFILE": "65536"}
    assert doc.dump().decode() == (
        "[Service]\nExecStart=/bin/true \\\n# trailing comment\n\n"
        f"# {MANAGED_BEGIN}\nLimitNOFILE=65536\n# {MANAGED_END}\n"
    )


def test_a_lone_cr_ends_a_line_as_it_does_for_systemd() -> None:
    doc = parse("systemd", b"[Service]\rLimitNOFILE=1\rTasksMax=2")
    assert doc.settings() == {"Service.LimitNOFILE": "1", "Service.TasksMax": "2"}
    assert doc.line_of("Service.TasksMax") == 3
    doc.set("Service.LimitCORE", "0")
    assert doc.dump().endswith(
        f"TasksMax=2\r# {MANAGED_BEGIN}\rLimitCORE=0\r# {MANAGED_END}\r".encode()
    )


def test_crlf_and_missing_final_newline_are_respected() -> None:
    crlf = parse("systemd", (FIXTURES / "crlf.conf").read_bytes())
    new, changes = merge(crlf, parse("systemd", b"[Service]\nLimitNOFILE=65536\nLimitCORE=0\n"))
    assert new.dump() == (
        b"# drop-in edited on Windows\r\n[Service]\r\nLimitNOFILE = 65536\r\n"
        b"TasksMax=infinity\r\n"
        + f"# {MANAGED_BEGIN}\r\nLimitCORE=0\r\n# {MANAGED_END}\r\n".encode()
    )
    assert [c.lines for c in changes] == [(3, 3), (6, 6)]
    bare = parse("systemd", (FIXTURES / "no-final-newline.conf").read_bytes())
    bare.set("Service.LimitCORE", "0")
    assert bare.dump().endswith(
        f"LimitNOFILE=2048\n# {MANAGED_BEGIN}\nLimitCORE=0\n# {MANAGED_END}\n".encode()
    )


def test_change_lines_point_into_the_new_document_after_every_edit() -> None:
    path = FIXTURES / "continuation.service"
    desired = (
        b"[Install]\nWantedBy=default.target\n[Service]\nLimitNOFILE=65536\n"
        b"ExecStart=/bin/celery worker\nTasksMax=4096\n"
    )
    new, changes = merge(parse("systemd", path.read_bytes()), parse("systemd", desired))
    lines = new.dump().decode().split("\n")
    assert [(c.setting, c.note) for c in changes] == [
        ("Install.WantedBy", ""),
        (
            "Service.LimitNOFILE",
            "defined twice (lines 15 and 25): edited the effective one, line 25",
        ),
        ("Service.ExecStart", ""),
        ("Service.TasksMax", ""),
    ]
    for change in changes:
        assert change.lines is not None
        key = change.setting.split(".")[1]
        assert lines[change.lines[0] - 1] == f"{key}={change.new}", change


def test_remove_deletes_every_assignment_with_its_continuation() -> None:
    doc = parse("systemd", (FIXTURES / "continuation.service").read_bytes())
    assert doc.remove("Service.ExecStart") is not None
    assert b"multi start" not in doc.dump() and b"--logfile" not in doc.dump()
    assert doc.remove("Service.ExecStart") is None
    assert doc.remove("Service.LimitNOFILE") is not None
    assert "Service.LimitNOFILE" not in doc.settings()


def test_bad_keys_and_values_are_refused() -> None:
    doc = unit("")
    with pytest.raises(ValueError):
        doc.set("LimitNOFILE", "1")
    with pytest.raises(ValueError):
        doc.set("Service.LimitNOFILE", "1\n[Install]")


# -- generated inputs -----------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from(list("[]=\\#; \t\n\rServiceLimtNOFL0123:é")), max_size=300)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_any_text_round_trips_or_fails_with_a_line(text: str) -> None:
    data = text.encode()
    try:
        doc = parse("systemd", data, "x.conf")
    except ParseError as error:
        assert error.path == "x.conf" and error.line and "section header" in error.message
    else:
        assert doc.dump() == data


ASSIGNMENTS = st.lists(
    st.tuples(
        st.sampled_from(["Unit", "Service", "Install"]),
        st.sampled_from(["LimitNOFILE", "TasksMax", "ExecStartPre"]),
        st.sampled_from(["", "1024", "a b", "65536:65536"]),
        st.sampled_from(["=", " = ", "\t=\t"]),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(ASSIGNMENTS, st.sampled_from(["\n", "\r\n"]), st.sampled_from(["Service", "Install"]))
def test_generated_units_model_and_idempotent_merge(
    assignments: list, newline: str, section: str
) -> None:
    text = "".join(f"[{s}]{newline}{k}{eq}{v}{newline}" for s, k, v, eq in assignments)
    doc = unit(text)
    model = {f"{s}.{k}": v for s, k, v, _ in assignments}
    assert doc.settings() == model
    desired = unit(f"[{section}]\nLimitNOFILE=4096\n")
    new, changes = merge(doc, desired)
    assert new.settings()[f"{section}.LimitNOFILE"] == "4096"
    assert merge(new, desired)[1] == []
    if assignments and newline == "\r\n":
        assert b"\n" not in new.dump().replace(b"\r\n", b"")
    for change in changes:
        assert change.lines and new.dump().split(b"\n")[change.lines[0] - 1].startswith(
            b"LimitNOFILE"
        )
