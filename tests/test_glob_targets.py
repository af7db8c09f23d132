"""Playbook path patterns: each host's matches become its own managed files (pure part)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from remediate.errors import PlaybookError
from remediate.playbook.schema import FileSpec
from remediate.playbook.targets import HostTarget, ManagedFile, expand_globs

GLOB = FileSpec("redis", "/etc/redis/redis*.conf", "redis.conf.j2", line=7)
LITERAL = FileSpec("redis", "/etc/redis/redis.conf", "redis.conf.j2", line=5)
CELERY = FileSpec("celery", "/srv/app/celeryconfig.py", "celeryconfig.py.j2")


def target(*specs: FileSpec) -> HostTarget:
    host = SimpleNamespace(name="host1", vars={})
    return HostTarget(host, tuple(ManagedFile(s, s.path, {}, {"x": 1}) for s in specs))


def test_a_pattern_is_sent_as_a_glob_and_each_match_becomes_a_file() -> None:
    t = target(CELERY, GLOB)
    assert t.paths == ["/srv/app/celeryconfig.py"] and t.globs == ["/etc/redis/redis*.conf"]
    matches = {"/etc/redis/redis*.conf": ("/etc/redis/redis-6380.conf", "/etc/redis/redis.conf")}
    expanded, unmatched = expand_globs(t, matches)
    assert unmatched == ()
    assert [m.remote_path for m in expanded.files] == [
        "/srv/app/celeryconfig.py",
        "/etc/redis/redis-6380.conf",
        "/etc/redis/redis.conf",
    ]
    assert all(m.spec is GLOB for m in expanded.files[1:])
    assert expanded.globs == [] and expanded.files[1].variables == {"x": 1}


def test_a_pattern_matching_nothing_is_reported_not_dropped_silently() -> None:
    expanded, unmatched = expand_globs(target(GLOB), {"/etc/redis/redis*.conf": ()})
    assert expanded.files == () and unmatched == (("redis", "/etc/redis/redis*.conf"),)


def test_a_literal_entry_wins_and_a_conflicting_match_is_an_error() -> None:
    matches = {"/etc/redis/redis*.conf": ("/etc/redis/redis.conf",)}
    expanded, _ = expand_globs(target(LITERAL, GLOB), matches)
    assert [m.spec for m in expanded.files] == [LITERAL]
    other = FileSpec("redis", "/etc/redis/redis*.conf", "other.j2", line=9)
    with pytest.raises(PlaybookError, match="line 9.* managed with other settings") as error:
        expand_globs(target(LITERAL, other), {other.path: ("/etc/redis/redis.conf",)})
    assert error.value.host == "host1"


def test_without_patterns_the_target_is_unchanged() -> None:
    t = target(LITERAL)
    assert expand_globs(t, {}) == (t, ())


class CountingConnection:
    """Runs each command with this machine's sh and counts the round trips."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.round_trips = 0

    def run(self, argv: list[str], *, stdin: bytes = b"", timeout: float | None = None) -> Any:
        import subprocess

        from remediate.remote.connection import CommandResult

        self.round_trips += 1
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)
        return CommandResult(" ".join(argv), done.stdout, done.stderr, done.returncode)

    def open_tcp(self, address: str, port: int, timeout: float | None = None) -> Any:
        raise AssertionError("no Redis is asked for limits files")


def test_survey_expands_a_pattern_in_its_one_gather_round_trip(tmp_path: Path) -> None:
    from remediate.engine.survey import survey_target
    from remediate.model.timeouts import Timeouts
    from remediate.playbook.render import Renderer

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "nofile.conf.j2").write_text("* soft nofile 65536\n")
    limits = tmp_path / "limits.d"
    limits.mkdir()
    (limits / "10-a.conf").write_text("* soft nofile 1024\n")
    (limits / "20-b.conf").write_text("* soft nofile 65536\n")
    spec = FileSpec("limits", f"{limits}/*.conf", "nofile.conf.j2")
    nothing = FileSpec("limits", f"{limits}/none-*.conf", "nofile.conf.j2")
    host = SimpleNamespace(name="local", address="127.0.0.1", vars={}, connection="local")
    files = tuple(ManagedFile(s, s.path, {}, {}) for s in (spec, nothing))
    conn = CountingConnection(host)
    survey = survey_target(
        conn,  # type: ignore[arg-type]
        HostTarget(host, files),
        Renderer(tmp_path / "templates"),
        Timeouts(),
    )
    assert conn.round_trips == 1
    changed = {f.path: f.changed for f in survey.plan.files}
    assert changed == {f"{limits}/10-a.conf": True, f"{limits}/20-b.conf": False}
    assert [(f.rule, f.path) for f in survey.plan.findings if f.rule == "PLB001"] == [
        ("PLB001", f"{limits}/none-*.conf")
    ]
