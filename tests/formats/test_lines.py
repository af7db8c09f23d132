"""One line layer for every kind: the same newline policy, managed block and notes.

Each test runs over all six kinds through the public API (parse, merge), so a kind that
drifts from the shared policy fails here by name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediate.formats import KINDS, MANIFEST_FILE_KINDS, merge, parse
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.lines import LineBuffer
from tests.formats.test_rabbitmq_conf import CUTTLEFISH, cuttlefish_reads
from tests.formats.test_redis_conf import REDIS_SERVER, redis_server_refuses
from tests.formats.test_shell_env import BASH, sourced_by_bash
from tests.formats.test_systemd_unit import SYSTEMD_ANALYZE, systemd_complaints


@dataclass(frozen=True)
class Sample:
    kind: str
    lines: tuple[str, ...]  # a few lines of a live file of this kind
    seed: bytes  # a template that sets one setting the live file lacks
    added: str  # the line the merge adds for it
    twice: str  # a file that sets ``key`` on its lines 1 and 2 (systemd: 2 and 3)
    key: str
    value: str


SAMPLES = {
    s.kind: s
    for s in [
        Sample(
            "redis",
            ("port 6379",),
            b"timeout 0\n",
            "timeout 0",
            "timeout 1\ntimeout 2\n",
            "timeout",
            "0",
        ),
        Sample(
            "rabbitmq",
            ("listeners.tcp.default = 5672",),
            b"heartbeat = 60\n",
            "heartbeat = 60",
            "heartbeat = 1\nheartbeat = 2\n",
            "heartbeat",
            "60",
        ),
        Sample(
            "celery",
            ("broker_url = 'redis://r'",),
            b"broker_heartbeat = 60\n",
            "broker_heartbeat = 60",
            "broker_heartbeat = 1\nbroker_heartbeat = 2\n",
            "broker_heartbeat",
            "60",
        ),
        Sample(
            "limits",
            ("* soft core 0",),
            b"rabbitmq - nofile 65536\n",
            "rabbitmq - nofile 65536",
            "r - nofile 1\nr - nofile 2\n",
            "r - nofile",
            "3",
        ),
        Sample(
            "systemd",
            ("[Service]", "User=redis"),
            b"[Service]\nLimitNOFILE=65536\n",
            "LimitNOFILE=65536",
            "[Service]\nLimitNOFILE=1\nLimitNOFILE=2\n",
            "Service.LimitNOFILE",
            "3",
        ),
        Sample("shell", ("NODENAME=rabbit",), b"A=1\n", "A=1", "A=1\nA=2\n", "A", "3"),
    ]
}
#: the kinds a playbook manages and merges; supervisord and python-lock are read by lint only
#: (a python-lock edit is a version pin, tested in test_python_lock.py)
# manifest kinds hold these formats (their blocks are the embedded documents' own)
MANAGED_KINDS = tuple(
    k for k in KINDS if k not in ("supervisord", "python-lock", *MANIFEST_FILE_KINDS)
)
ALL = pytest.mark.parametrize("kind", MANAGED_KINDS)


def test_every_kind_has_a_sample() -> None:
    assert sorted(SAMPLES) == sorted(MANAGED_KINDS)


def live_file(kind: str, endings: list[str]) -> bytes:
    """The sample's lines, then comment lines, ending in ``endings`` one by one."""
    lines = [*SAMPLES[kind].lines, "# one", "# two", "# three"]
    return "".join(line + end for line, end in zip(lines, endings, strict=False)).encode()


def block(kind: str, newline: str) -> bytes:
    added = SAMPLES[kind].added
    return f"# {MANAGED_BEGIN}{newline}{added}{newline}# {MANAGED_END}{newline}".encode()


def merged(kind: str, data: bytes) -> bytes:
    new, changes = merge(parse(kind, data, "f"), parse(kind, SAMPLES[kind].seed, "seed"))
    assert len(changes) == 1
    return new.dump()


@ALL
@pytest.mark.parametrize(
    ("endings", "newline"),
    [
        (["\n", "\n", "\n"], "\n"),
        (["\r\n", "\r\n", "\r\n"], "\r\n"),
        (["\n", "\r\n", "\r\n"], "\r\n"),  # mixed: the dominant ending, not the first line's
        (["\r\n", "\n", "\n"], "\n"),
        (["\r\n", "\n"], "\n"),  # a tie: LF
    ],
    ids=["lf", "crlf", "mostly-crlf", "mostly-lf", "tie"],
)
def test_a_new_line_takes_the_dominant_line_ending(
    kind: str, endings: list[str], newline: str
) -> None:
    data = live_file(kind, endings)
    assert merged(kind, data) == data + block(kind, newline)


@ALL
def test_the_first_line_does_not_decide_the_ending(kind: str) -> None:
    data = live_file(kind, ["\n", "\r\n", "\r\n", "\r\n"])
    after = merged(kind, data)
    assert after.startswith(data)
    added = after[len(data) :]
    assert added.count(b"\r\n") == 3 and b"\n" not in added.replace(b"\r\n", b"")


@ALL
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_last_line_without_an_ending_first_gets_the_dominant_one(kind: str, newline: str) -> None:
    data = live_file(kind, [newline] * (len(SAMPLES[kind].lines) + 2) + [""])
    assert not data.endswith(b"\n")
    assert merged(kind, data) == data + newline.encode() + block(kind, newline)


@ALL
def test_an_empty_file_gets_the_lines_with_lf_and_no_markers(kind: str) -> None:
    added = SAMPLES[kind].added
    expected = (f"[Service]\n{added}\n" if kind == "systemd" else f"{added}\n").encode()
    assert merged(kind, b"") == expected


@ALL
def test_an_existing_managed_block_is_found_and_reused(kind: str) -> None:
    sample = SAMPLES[kind]
    head = "".join(f"{line}\r\n" for line in sample.lines).encode()
    markers = f"  # {MANAGED_BEGIN} (v1)\r\n# x\r\n# {MANAGED_END}\r\n# tail\r\n".encode()
    after = merged(kind, head + markers)
    end = markers.index(b"# " + MANAGED_END.encode())
    assert after == head + markers[:end] + f"{sample.added}\r\n".encode() + markers[end:]


@ALL
def test_a_begin_marker_without_its_end_is_not_a_block(kind: str) -> None:
    head = "".join(f"{line}\n" for line in SAMPLES[kind].lines).encode()
    orphan = f"# {MANAGED_BEGIN}\n".encode()
    assert merged(kind, head + orphan) == head + orphan + block(kind, "\n")


def test_a_lone_cr_is_a_line_ending_where_the_reader_says_so() -> None:
    # systemd ends lines at a lone CR, so a CR file gets CR lines
    data = b"[Service]\rUser=redis\r# one\r"
    assert merged("systemd", data) == data + block("systemd", "\r")
    # for the LF kinds a lone CR is inside a line, and never counts as an ending
    assert LineBuffer("a\rb\rc\n").newline == "\n"


@ALL
def test_one_wording_for_a_setting_defined_twice_and_for_its_removal(kind: str) -> None:
    sample = SAMPLES[kind]
    first = 2 if kind == "systemd" else 1
    doc = parse(kind, sample.twice.encode(), "f")
    edit = doc.set(sample.key, sample.value)
    assert edit.note == (
        f"defined twice (lines {first} and {first + 1}): edited the effective one, line {first + 1}"
    )
    removed = doc.remove(sample.key)
    assert removed is not None and removed.note == f"removed lines {first} and {first + 1}"


# -- the real programs read what the merge wrote, whatever the line endings ---------------

ENDINGS = pytest.mark.parametrize(
    "endings",
    [
        ["\n", "\n", "\n", "\n", ""],
        ["\r\n", "\r\n", "\r\n", "\r\n", ""],
        ["\n", "\r\n", "\r\n", "\n", "\r\n"],
        ["\r\n", "\n", "\n", "\r\n", "\n"],
    ],
    ids=["lf-no-final-newline", "crlf-no-final-newline", "mostly-crlf", "mostly-lf"],
)


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
@ENDINGS
def test_redis_server_accepts_the_merged_file(tmp_path: Path, endings: list[str]) -> None:
    after = merged("redis", live_file("redis", endings))
    assert parse("redis", after).settings()["timeout"] == "0"
    assert not redis_server_refuses(tmp_path, after.decode())


@pytest.mark.skipif(not CUTTLEFISH or shutil.which("erl") is None, reason="needs RabbitMQ")
def test_cuttlefish_reads_the_merged_setting(tmp_path: Path) -> None:
    cases = [
        ["\n", "\n", "\n", "\n", ""],
        ["\r\n", "\r\n", "\r\n", "\r\n", ""],
        ["\n", "\r\n", "\r\n", "\n", "\r\n"],
        ["\r\n", "\n", "\n", "\r\n", "\n"],
    ]
    texts = [merged("rabbitmq", live_file("rabbitmq", endings)).decode() for endings in cases]
    for read in cuttlefish_reads(tmp_path, texts):
        assert isinstance(read, list) and ("heartbeat", "60") in read


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize(
    "endings",
    [
        ["\r", "\r", "\r", "\r", ""],
        ["\r\n", "\r\n", "\r\n", "\r\n", ""],
        ["\n", "\r\n", "\r\n", "\n", "\r\n"],
    ],
    ids=["cr-no-final-newline", "crlf-no-final-newline", "mostly-crlf"],
)
def test_systemd_reads_the_merged_unit_without_complaint(
    tmp_path: Path, endings: list[str]
) -> None:
    data = live_file("systemd", endings).replace(b"[Service]", b"[Service]\nExecStart=/bin/true", 1)
    after = merged("systemd", data)
    assert parse("systemd", after).settings()["Service.LimitNOFILE"] == "65536"
    assert systemd_complaints(tmp_path, after) == {}


@pytest.mark.skipif(BASH is None, reason="needs bash")
@pytest.mark.parametrize(
    "endings", [["\n", "\n", "\n", ""], ["\n", "\n", "\n", "\n"]], ids=["no-final-newline", "lf"]
)
def test_the_shell_sources_the_merged_file(tmp_path: Path, endings: list[str]) -> None:
    target = tmp_path / "default"
    target.write_bytes(merged("shell", live_file("shell", endings)))
    values, _ = sourced_by_bash(target, ["A", "NODENAME"])
    assert values == {"A": "1", "NODENAME": "rabbit"}


@ENDINGS
def test_python_runs_the_merged_celery_module(tmp_path: Path, endings: list[str]) -> None:
    target = tmp_path / "celeryconfig.py"
    target.write_bytes(merged("celery", live_file("celery", endings)))
    script = "import runpy, sys; print(runpy.run_path(sys.argv[1])['broker_heartbeat'])"
    run = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout == "60\n"
