"""`remediate lint`: which files are linted as what, findings of files alone and together,
fingerprints and baselines, and the exit codes of the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from remediate.errors import ParseError
from remediate.lint.kinds import detect_kind, has_celery_settings, kind_from_content
from remediate.lint.run import (
    SourceFile,
    collect,
    fingerprint,
    groups_linted_together,
    lint_paths,
    lint_sources,
    parse_finding,
    without_baseline,
)
from remediate.model.plans import Finding
from tests.conftest import CORPUS, ROOT, run_cli

LINT = Path(__file__).resolve().parent / "fixtures" / "lint"
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.parent != CORPUS)


def corpus_kind(path: Path) -> str:
    """The true kind of a corpus file: its folder (templated/<kind>/ too)."""
    return path.parent.name


# -- which kind is a file? ------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_is_detected_as_its_folder_says(path: Path) -> None:
    assert detect_kind(str(path), path.read_bytes()) == corpus_kind(path)


@pytest.mark.parametrize(
    ("path", "text", "kind"),
    [
        ("/etc/redis/6379.conf", "port 6379\ntimeout 0\n", "redis"),
        ("deploy/redis-cache.conf", "# only comments\n", "redis"),
        ("etc/security/limits.d/redis.conf", "redis soft nofile 65536\n", "limits"),
        ("etc/security/limits.d/90-rabbitmq.conf", "rabbitmq - nofile 65536\n", "limits"),
        (
            "etc/systemd/system/rabbitmq-server.service.d/limits.conf",
            "[Service]\nLimitNOFILE=1\n",
            "systemd",
        ),
        ("roles/rabbitmq/templates/limits.conf.j2", "[Service]\nLimitNOFILE={{ n }}\n", "systemd"),
        ("etc/rabbitmq/conf.d/20-heartbeat.conf", "heartbeat = 30\n", "rabbitmq"),
        ("etc/rabbitmq/rabbitmq-env.conf", "NODENAME=rabbit\n", "shell"),
        ("etc/default/rabbitmq-server", "# comments only\n", "shell"),
        ("app/celery.py", "app.conf.update(broker_url='redis://')\n", "celery"),
        ("proj/settings/base.py", "import os\nCELERY_BROKER_URL = os.environ['B']\n", "celery"),
    ],
)
def test_names_and_contents_that_say_their_kind(path: str, text: str, kind: str) -> None:
    assert detect_kind(path, text.encode()) == kind


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n"),  # `include` alone is not Redis
        ("etc/init.d/rabbitmq-server", '#!/bin/sh\nset -e\ncase "$1" in\nstart) run ;;\nesac\n'),
        ("etc/rabbitmq/rabbitmq.config", "%% classic\n[{rabbit, [{tcp_listeners, [5672]}]}].\n"),
        ("Makefile", "CC=gcc\nall:\n\tgcc -o a a.c\n"),
        ("README.md", "port 6379\ntimeout 0\n"),
        ("app/.env", "REDIS_URL=redis://localhost\n"),
        (
            "tests/test_config.py",
            ('CONF = """\nbroker_url = "redis://"\n"""\n\ndef test():\n    broker_url = 1\n'),
        ),
        ("app/models.py", "timezone = 'UTC'\nimports = ()\n"),  # generic names are not enough
    ],
)
def test_files_that_are_none_of_ours(path: str, text: str) -> None:
    assert detect_kind(path, text.encode()) is None


def test_templates_that_are_not_python_are_read_line_by_line() -> None:
    source = b'{% if use_celery %}\nCELERY_BROKER_URL = env("X")\n{% endif %}\n'
    assert has_celery_settings(source)


def test_content_needs_a_clear_majority() -> None:
    assert kind_from_content("port 6379\nbind 0.0.0.0\nsave 60 1\n") == "redis"
    assert kind_from_content("port 6379\nsome prose here\nmore prose\nand more\n") is None
    assert kind_from_content("# just comments\n\n") is None


# -- files in -------------------------------------------------------------------------------


def test_a_walk_skips_vcs_caches_venvs_binaries_and_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "redis.conf").write_text("timeout 0\ntcp-keepalive 60\n")
    for skipped in (".git", "__pycache__", "node_modules", "env"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "redis.conf").write_text("timeout 0\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")  # a venv under any name
    (tmp_path / "dump.conf").write_bytes(b"port 6379\0\1\2")
    (tmp_path / "notes.txt").write_text("timeout 0\n")
    sources, errors = collect([tmp_path], cwd=tmp_path)
    assert [(s.path, s.kind) for s in sources] == [("redis.conf", "redis")]
    assert errors == []


def test_named_files_of_no_known_kind_are_a_finding_not_a_skip(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("eggs\n")
    (tmp_path / "blob.conf").write_bytes(b"\0\1\2")
    run = lint_paths([tmp_path / "notes.txt", tmp_path / "blob.conf"], cwd=tmp_path)
    found = {(f.finding.path, f.finding.rule, f.finding.severity) for f in run.findings}
    assert found == {("notes.txt", "KIND", "info"), ("blob.conf", "KIND", "info")}
    assert "binary" in next(
        f.finding.message for f in run.findings if f.finding.path == "blob.conf"
    )


def test_kind_forces_every_file(tmp_path: Path) -> None:
    (tmp_path / "whatever.txt").write_text("timeout 0\ntcp-keepalive 0\n")
    run = lint_paths([tmp_path], kind="redis", cwd=tmp_path)
    assert run.files == (("whatever.txt", "redis"),)
    assert [f.finding.rule for f in run.findings] == ["RDS002"]


def test_paths_are_reported_relative_to_the_working_directory(tmp_path: Path) -> None:
    run = lint_paths([LINT / "host"], cwd=LINT)
    assert {path for path, _ in run.files} == {
        "host/etc/redis/redis.conf",
        "host/srv/app/celeryconfig.py",
    }
    outside = lint_paths([LINT / "clean"], cwd=tmp_path)
    assert outside.files == ((str(LINT / "clean" / "redis.conf"), "redis"),)


def test_a_missing_path_is_an_error_and_the_rest_is_still_linted(tmp_path: Path) -> None:
    run = lint_paths([tmp_path / "nope.conf", LINT / "clean"], cwd=LINT)
    assert [(e.path, e.reason) for e in run.errors] == [
        (str(tmp_path / "nope.conf"), "no such file or directory")
    ]
    assert run.files == (("clean/redis.conf", "redis"),)
    assert run.exit_code("warning") == 1


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "redis.conf").symlink_to(tmp_path / "gone")  # dangling: exists as a name only
    run = lint_paths([tmp_path / "redis.conf"], cwd=tmp_path)
    assert [(e.path, e.reason) for e in run.errors] == [("redis.conf", "No such file or directory")]
    assert run.exit_code("error") == 1


# -- findings -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_lints_to_findings_about_itself(path: Path) -> None:
    run = lint_paths([path], cwd=CORPUS)
    shown = str(path.relative_to(CORPUS))
    assert run.files == ((shown, corpus_kind(path)),)
    for item in run.findings:
        assert item.finding.path == shown
        assert item.finding.severity in ("info", "warning", "error")
        assert item.finding.line is None or item.finding.line >= 1
    parse_errors = [f.finding for f in run.findings if f.finding.rule == "PARSE"]
    if "templated" not in path.parts:
        assert parse_errors == []  # real files all parse; only templates may not
    for error in parse_errors:
        assert error.line and error.message.startswith(f"cannot parse as {corpus_kind(path)}: ")


@pytest.mark.parametrize("kind", ["redis", "rabbitmq", "celery", "limits", "systemd", "shell"])
def test_forcing_the_wrong_kind_on_every_corpus_file_gives_findings_never_a_crash(
    kind: str,
) -> None:
    run = lint_paths([CORPUS], kind=kind, cwd=CORPUS)
    assert len(run.files) == len(CORPUS_FILES) + 2  # + README.md and SOURCES.md
    assert {k for _, k in run.files} == {kind}
    assert run.findings and run.exit_code("info") == 2


def test_templates_give_parse_findings_naming_the_line() -> None:
    template = CORPUS / "templated" / "celery" / "cookiecutter__cookiecutter-django__base.py"
    run = lint_paths([template], cwd=CORPUS)
    [error] = [f.finding for f in run.findings]
    assert (error.rule, error.severity, error.line, error.column) == ("PARSE", "error", 41, 2)
    assert error.message == (
        "cannot parse as celery: not valid Python: invalid syntax "
        "(the file looks like a template: lint the rendered file)"
    )


def test_a_refused_file_and_a_stray_named_file_are_findings_of_their_own() -> None:
    run = lint_paths([LINT / "broken", LINT / "notes.txt"], cwd=LINT)
    assert [(f.finding.path, f.finding.rule, f.finding.line) for f in run.findings] == [
        ("broken/rabbitmq.conf", "PARSE", 3),
        ("notes.txt", "KIND", None),
    ]
    assert run.exit_code("warning") == 2 and run.exit_code("error") == 2


def test_parse_error_column_is_carried_by_the_error() -> None:
    source = SourceFile("rabbitmq.conf", b"heartbeat 60\n", "rabbitmq")
    finding = parse_finding(source, ParseError("not a setting", path="x", line=1, column=7))
    assert (finding.line, finding.column, finding.message) == (
        1,
        7,
        "cannot parse as rabbitmq: not a setting",
    )


def test_cross_rules_fire_when_celeryconfig_and_its_redis_are_linted_together() -> None:
    together = lint_paths([LINT / "host"], cwd=LINT)
    alone = lint_paths([LINT / "host" / "srv" / "app" / "celeryconfig.py"], cwd=LINT)
    assert "X001" in {f.finding.rule for f in together.findings}
    assert "X001" not in {f.finding.rule for f in alone.findings}
    named = lint_paths(
        [
            LINT / "host" / "srv" / "app" / "celeryconfig.py",
            LINT / "host" / "etc" / "redis" / "redis.conf",
        ],
        cwd=LINT,
    )
    assert "X001" in {f.finding.rule for f in named.findings}


def test_a_fleet_directory_is_judged_one_host_at_a_time(tmp_path: Path) -> None:
    for host, timeout in (("web1", 300), ("web2", 0)):
        app = tmp_path / "hosts" / host / "srv" / "app"
        app.mkdir(parents=True)
        (app / "celeryconfig.py").write_text(
            "broker_url = 'redis://r:6379/0'\nbroker_transport_options = "
            "{'health_check_interval': 0}\n"
        )
        (tmp_path / "hosts" / host / "redis.conf").write_text(f"timeout {timeout}\n")
    run = lint_paths([tmp_path], cwd=tmp_path)
    cross = [f.finding for f in run.findings if f.finding.rule == "X001"]
    assert [f.path for f in cross] == ["hosts/web1/srv/app/celeryconfig.py"]
    assert "hosts/web1/redis.conf" in cross[0].message


def test_groups_split_only_where_a_directory_holds_two_systems() -> None:
    from remediate.formats import parse

    def doc(path: str, kind: str, text: str) -> object:
        return parse(kind, text.encode(), path)

    docs = [
        doc("a/etc/redis/redis.conf", "redis", "port 1\n"),
        doc("a/srv/celeryconfig.py", "celery", "broker_url = 'redis://'\n"),
        doc("b/redis.conf", "redis", "port 2\n"),
        doc("b/rabbitmq/rabbitmq.conf", "rabbitmq", "heartbeat = 60\n"),
        doc("b/rabbitmq/conf.d/10.conf", "rabbitmq", "heartbeat = 30\n"),
    ]
    groups = [sorted(d.path for d in group) for group in groups_linted_together(docs)]
    assert groups == [
        ["a/etc/redis/redis.conf", "a/srv/celeryconfig.py"],
        ["b/rabbitmq/conf.d/10.conf", "b/rabbitmq/rabbitmq.conf", "b/redis.conf"],
    ]


def test_suppressed_findings_are_kept_but_do_not_fail_the_run() -> None:
    run = lint_paths([LINT / "host" / "etc" / "redis" / "redis.conf"], cwd=LINT)
    by_rule = {f.finding.rule: f.finding for f in run.findings}
    assert by_rule["RDS001"].suppressed and not by_rule["RDS002"].suppressed
    assert run.exit_code("info") == 2
    only_suppressed = lint_paths([LINT / "host" / "etc" / "redis" / "redis.conf"], cwd=LINT)
    assert not [f for f in only_suppressed.failing("info") if f.finding.rule == "RDS001"]


def test_fail_on_sets_the_exit_code() -> None:
    run = lint_paths([LINT / "host" / "etc" / "redis" / "redis.conf"], cwd=LINT)  # a warning
    assert (run.exit_code("info"), run.exit_code("warning"), run.exit_code("error")) == (2, 2, 0)
    clean = lint_paths([LINT / "clean"], cwd=LINT)
    assert (clean.findings, clean.exit_code("info")) == ((), 0)


def test_the_celery_version_is_what_the_rules_judge_against(tmp_path: Path) -> None:
    (tmp_path / "celeryconfig.py").write_text(
        "broker_url = 'redis://r//'\nbroker_connection_retry_on_startup = True\n"
        "broker_transport_options = {'socket_keepalive': True, 'socket_timeout': 30,\n"
        "    'socket_keepalive_options': {1: 60}}\n"
    )
    new = {f.finding.rule for f in lint_paths([tmp_path], cwd=tmp_path).findings}
    old = {
        f.finding.rule for f in lint_paths([tmp_path], celery_version="5.0", cwd=tmp_path).findings
    }
    assert "CEL001" in old - new  # broker_connection_retry_on_startup: new in Celery 5.3


# -- fingerprints and baselines -------------------------------------------------------------


def _finding(line: int, rule: str = "RDS002") -> Finding:
    return Finding(rule, "warning", "redis", "redis.conf", line, "tcp-keepalive 0")


def test_fingerprints_survive_edits_above_and_tell_identical_lines_apart() -> None:
    before = b"tcp-keepalive 0\ntcp-keepalive 0\n"
    after = b"# a comment\nport 6379\n\ntcp-keepalive   0\ntcp-keepalive 0\n"
    first = fingerprint([_finding(1), _finding(2)], {"redis.conf": before})
    second = fingerprint([_finding(4), _finding(5)], {"redis.conf": after})
    assert [f.fingerprint for f in first] == [f.fingerprint for f in second]
    assert first[0].fingerprint != first[1].fingerprint
    other_rule = fingerprint([_finding(1, "RDS005")], {"redis.conf": before})
    assert other_rule[0].fingerprint != first[0].fingerprint
    changed = fingerprint([_finding(1)], {"redis.conf": b"tcp-keepalive 1\n"})
    assert changed[0].fingerprint != first[0].fingerprint


def test_baseline_keeps_only_new_findings(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("tcp-keepalive 0\n")
    report = {
        "schema": 1,
        "kind": "lint",
        "findings": [
            {"rule": f.finding.rule, "path": f.finding.path, "fingerprint": f.fingerprint}
            for f in lint_paths([tmp_path], cwd=tmp_path).findings
        ],
    }
    conf.write_text("# moved down\ntcp-keepalive 0\ntimeout 300\n")
    run = lint_paths([tmp_path], cwd=tmp_path, baseline=report)
    assert [f.finding.rule for f in run.findings] == ["RDS001"]
    assert run.baselined == 1


def test_a_baseline_that_is_not_a_lint_report_is_refused() -> None:
    with pytest.raises(ParseError):
        without_baseline([], {"schema": 1, "kind": "plan", "hosts": []})


def test_findings_are_sorted_and_deduplicated() -> None:
    sources = [
        SourceFile("b.conf", b"tcp-keepalive 0\n", "redis"),
        SourceFile("a.conf", b"timeout 5\ntcp-keepalive 0\n", "redis"),
    ]
    keys = [(f.finding.path, f.finding.line) for f in lint_sources(sources)]
    assert keys == sorted(keys) == [("a.conf", 1), ("a.conf", 2), ("b.conf", 1)]


# -- the command ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_exit_codes_are_the_same_whatever_the_format(fmt: str, tmp_path: Path) -> None:
    def code(*args: str) -> int:
        return run_cli("lint", "--format", fmt, *args, cwd=LINT).returncode

    assert code("clean") == 0
    assert code("host") == 2
    assert code("host", "--fail-on", "error") == 2  # CEL006 is an error
    assert code("host/etc/redis/redis.conf", "--fail-on", "error") == 0
    assert code("clean", str(tmp_path / "missing.conf")) == 1
    assert code("clean", "--fail-on", "fatal") == 64
    assert code("clean", "--kind", "nginx") == 64
    assert code("clean", "--celery-version", "3.1") == 64
    assert code("clean", "--no-such-flag") == 64
    assert code() == 64  # PATH is required


def test_text_output_and_the_error_for_a_missing_path(tmp_path: Path) -> None:
    result = run_cli("lint", "host", str(tmp_path / "gone.conf"), cwd=LINT)
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "host/etc/redis/redis.conf:6:1: RDS002 warning tcp-keepalive 0: no TCP "
        "keepalives: idle middleboxes drop the flow unseen and dead peers are "
        "never found"
    )
    assert lines[1] == "    fix: tcp-keepalive 60 (live, new connections only)"
    assert lines[-2] == f"{tmp_path / 'gone.conf'}: error: no such file or directory"
    assert lines[-1] == (
        "2 files linted: 5 findings (1 error, 2 warnings, 2 info), 1 suppressed, "
        "1 unreadable; 3 at or above warning (exit 1)"
    )
    assert (
        result.stderr == f"remediate: error: {tmp_path / 'gone.conf'}: no such file or directory\n"
    )
    assert result.returncode == 1


def test_output_file_and_baseline_through_the_cli(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("tcp-keepalive 0\n")
    report = tmp_path / "lint.json"
    first = run_cli("lint", "redis.conf", "--format", "json", "--output", str(report), cwd=tmp_path)
    assert (first.returncode, first.stdout) == (2, "")
    assert json.loads(report.read_text())["exit_code"] == 2
    conf.write_text("# new header\ntcp-keepalive 0\n")
    again = run_cli("lint", "redis.conf", "--baseline", str(report), cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.strip().endswith("(exit 0)") and "1 in baseline" in again.stdout
    bad = run_cli("lint", "redis.conf", "--baseline", str(conf), cwd=tmp_path)
    assert bad.returncode == 1 and "baseline is not JSON" in bad.stderr


def test_lint_never_imports_ssh_or_redis_clients() -> None:
    code = (
        "import sys\nfrom remediate.cli.main import run\n"
        "try:\n    run(['lint', 'host', '--format', 'sarif'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'paramiko', 'fabric', 'invoke', 'redis'}), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=LINT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_pre_commit_hook_is_two_lines_away() -> None:
    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["entry"], hook["language"]) == (
        "remediate-lint",
        "remediate lint",
        "python",
    )
    import re

    files = re.compile(hook["files"])
    for path in (
        "etc/redis/redis.conf",
        "deploy/sentinel-26379.conf",
        "users.acl",
        "etc/rabbitmq/rabbitmq.conf",
        "etc/rabbitmq/conf.d/10-defaults.conf",
        "app/celeryconfig.py",
        "proj/celery.py",
        "etc/security/limits.conf",
        "etc/security/limits.d/rabbitmq.conf",
        "lib/systemd/system/redis.service",
        "rabbitmq-server.service.d/limits.conf",
        "etc/default/rabbitmq-server",
        "etc/rabbitmq/rabbitmq-env.conf",
    ):
        assert files.search(path), path
    for path in ("README.md", "app/models.py", "etc/nginx/nginx.conf"):
        assert not files.search(path), path
