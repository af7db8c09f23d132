"""Global options anywhere, colour by NO_COLOR/FORCE_COLOR, shell completion, --log for cron."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remediate.cli.main import color_allowed, hoist_global_options
from tests.conftest import run_cli

REDIS_CONF = "timeout 300\ntcp-keepalive 0\n"  # RDS002 (warning): a finding to colour


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["plan", "--no-color", "-l", "x"], ["--no-color", "plan", "-l", "x"]),
        (["plan", "--log", "f.log", "--debug"], ["--log", "f.log", "--debug", "plan"]),
        (["plan", "--log=f.log"], ["--log=f.log", "plan"]),
        (["--debug", "plan"], ["--debug", "plan"]),
        (["lint", "--", "--debug"], ["lint", "--", "--debug"]),  # after --: a path
    ],
)
def test_global_options_after_the_command_move_in_front(
    args: list[str], expected: list[str]
) -> None:
    assert hoist_global_options(args) == expected


@pytest.mark.parametrize(
    ("flag", "environ", "allowed"),
    [
        (False, {}, True),
        (False, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty NO_COLOR disables
        (False, {"NO_COLOR": "1"}, False),
        (False, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, True),
        (False, {"FORCE_COLOR": ""}, True),
        (True, {"FORCE_COLOR": "1"}, False),  # the flag wins
    ],
)
def test_colour_follows_the_flag_force_color_and_no_color(
    flag: bool, environ: dict[str, str], allowed: bool
) -> None:
    assert color_allowed(flag, environ) is allowed


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, **extra}


def test_force_color_colours_piped_output_and_no_color_after_the_command_wins(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text(REDIS_CONF)
    forced = run_cli("lint", str(conf), env=_env(FORCE_COLOR="1"))
    assert forced.returncode == 2, forced.stderr
    assert "\x1b[" in forced.stdout
    plain = run_cli("lint", str(conf), "--no-color", env=_env(FORCE_COLOR="1"))
    assert plain.returncode == 2, plain.stderr
    assert "\x1b[" not in plain.stdout and "RDS002 warning" in plain.stdout
    piped = run_cli("lint", str(conf), env=_env(NO_COLOR=""))
    assert "\x1b[" not in piped.stdout  # not a terminal: plain


def test_shell_completion_is_available() -> None:
    result = run_cli("--show-completion", "bash", env=_env())
    assert result.returncode == 0, result.stderr
    assert "_remediate_completion" in result.stdout
    assert "--install-completion" in run_cli("--help").stdout


def test_log_file_holds_each_hosts_steps_and_stderr_stays_quiet(tmp_path: Path) -> None:
    log = tmp_path / "remediate.log"
    result = run_cli("plan", "-l", "example", "--summary", "--log", str(log), env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = log.read_text()
    assert "example: ran remediate-gather: exit 0 in " in text
    assert "example: gathered " in text and " bytes (4 files" in text
    assert "example: planned 4 of 4 files to change" in text
    assert "example: done in " in text
    assert "paramiko" not in text


def test_unwritable_log_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("--log", str(tmp_path / "no" / "such" / "dir.log"), "inventory", "--list")
    assert result.returncode == 64
    assert "--log" in result.stderr and "No such file or directory" in result.stderr


def test_counted_nouns_are_singular_for_one(tmp_path: Path) -> None:
    from remediate.report.apply import apply_lines, recap_key
    from remediate.report.words import plural

    assert [plural(n, "host") for n in (0, 1, 2)] == ["0 hosts", "1 host", "2 hosts"]
    assert plural(1, "info") == "1 info" and plural(3, "info") == "3 info"
    assert apply_lines([])[-2] == ("bold", "0 hosts")  # never "0 hosts: " and nothing after it
    assert recap_key("rolled back") == "rolled_back"
    conf = tmp_path / "redis.conf"
    conf.write_text("tcp-keepalive 0\n")
    result = run_cli("lint", str(conf), "--no-color", env=_env())
    assert result.stdout.splitlines()[-1].startswith(
        "1 file linted: 1 finding (0 errors, 1 warning, 0 info); 1 at or above warning"
    )


def test_log_records_are_masked() -> None:
    import logging

    from remediate.cli.main import _mask_record
    from remediate.model.secrets import secret_text

    secret_text("vault-decrypted-hunter2")
    record = logging.LogRecord(
        "remediate.steps",
        logging.DEBUG,
        __file__,
        1,
        "%s: url %s, value %s",
        ("h1", "redis://:pw-in-url@10.0.0.1:6379/0", "vault-decrypted-hunter2"),
        None,
    )
    assert _mask_record(record)
    message = record.getMessage()
    assert "pw-in-url" not in message and "hunter2" not in message
    assert message.startswith("h1: url redis://:********(")
