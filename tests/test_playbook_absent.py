"""`absent:` in a playbook's file entry: parsed with lines for errors, its `when:` evaluated
per host with the template's variables, and the planner removing what it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediate.errors import PlaybookError, TemplateError
from remediate.formats import ABSENT
from remediate.model.facts import FileFact, HostFacts
from remediate.model.secrets import Masker
from remediate.plan.planner import DesiredFile, plan_file
from remediate.playbook.render import Renderer
from remediate.playbook.schema import AbsentSetting, load_playbook
from remediate.playbook.targets import absent_settings, template_vars

ROOT = Path(__file__).resolve().parents[1]

PLAY = """\
- hosts: workers
  files:
    - kind: celery
      path: /srv/app/celeryconfig.py
      template: t.j2
      absent:
{entries}
"""


def playbook(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "site.yml"
    path.write_text(PLAY.format(entries=entries))
    return path


def test_names_and_conditions_are_read(tmp_path: Path) -> None:
    book = load_playbook(
        playbook(
            tmp_path,
            "        - worker_heartbeat_interval\n"
            "        - setting: broker_heartbeat\n"
            "          when: broker_scheme != 'amqp'\n",
        )
    )
    [spec] = book.plays[0].files
    assert spec.absent == (
        AbsentSetting("worker_heartbeat_interval", None, 6),
        AbsentSetting("broker_heartbeat", "broker_scheme != 'amqp'", 8),
    )


@pytest.mark.parametrize(
    ("entries", "message", "line"),
    [
        ("        - ''\n", "not a setting name", 6),
        ("        - [a]\n", "not a setting name", 6),
        ("        - {setting: a, if: x}\n", "unknown absent key 'if'", 7),
        ("        - {setting: a, when: 'broker_scheme =='}\n", "not a Jinja expression", 7),
        ("        - a\n        - a\n", "lists a twice", 6),
    ],
)
def test_a_bad_entry_is_one_error_with_its_line(
    tmp_path: Path, entries: str, message: str, line: int
) -> None:
    with pytest.raises(PlaybookError, match=message) as caught:
        load_playbook(playbook(tmp_path, entries))
    assert caught.value.line == line and caught.value.path.endswith("site.yml")


def test_absent_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "site.yml"
    path.write_text(PLAY.replace("      absent:\n{entries}", "      absent: broker_heartbeat"))
    with pytest.raises(PlaybookError, match="is a list") as caught:
        load_playbook(path)
    assert caught.value.line == 6


def test_the_shipped_playbook_removes_broker_heartbeat_only_where_it_does_nothing() -> None:
    book = load_playbook(ROOT / "playbooks" / "site.yml")
    [spec] = [f for p in book.plays for f in p.files if f.kind == "celery"]
    renderer = Renderer(ROOT / "templates")
    non_settings = (
        "broker_connection_retry_delay",
        "broker_connection_retry_on_timeout",
        "worker_heartbeat_interval",
        "worker_heartbeat_expire",
        "visibility_timeout",
    )
    for scheme in ("redis", "rediss", "sentinel", "redis+socket"):
        got = absent_settings(spec, renderer, template_vars({}, {}, scheme))
        assert got == (*non_settings, "broker_heartbeat"), scheme
    for scheme in ("amqp", "sqs"):
        assert absent_settings(spec, renderer, template_vars({}, {}, scheme)) == non_settings


def test_an_undefined_variable_in_when_names_the_playbook_line(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("")
    book = load_playbook(playbook(tmp_path, "        - {setting: a, when: nope == 1}\n"))
    [spec] = book.plays[0].files
    with pytest.raises(TemplateError, match="nope") as caught:
        absent_settings(spec, Renderer(tmp_path), {}, book.path)
    assert caught.value.line == 7 and caught.value.path == book.path


def facts(content: bytes) -> HostFacts:
    import hashlib

    path = "/srv/app/celeryconfig.py"
    sha = hashlib.sha256(content).hexdigest()
    return HostFacts({path: FileFact(path, True, content, sha, "0644", 0, 0, "root", "root")})


def test_the_planner_removes_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("broker_connection_retry = True\n")
    book = load_playbook(playbook(tmp_path, "        - broker_heartbeat\n"))
    [play] = book.plays
    [spec] = play.files
    live = b"broker_url = 'redis://r'\nbroker_heartbeat = 10  # forum\nbroker_connection_retry = True\n"
    desired = DesiredFile(
        spec, spec.path, b"broker_connection_retry = True\n", {}, ("broker_heartbeat",)
    )
    planned = plan_file(desired, facts(live), Masker())
    [change] = planned.plan.changes
    assert (change.setting, change.old, change.new) == ("broker_heartbeat", "10", "(unset)")
    assert change.note == "removed line 2 (its comment: # forum)"
    assert change.effect == "restart"
    assert planned.new_content == b"broker_url = 'redis://r'\nbroker_connection_retry = True\n"
    assert planned.new_doc.current("broker_heartbeat") is ABSENT


def test_a_setting_both_templated_and_absent_is_a_playbook_error(tmp_path: Path) -> None:
    book = load_playbook(playbook(tmp_path, "        - broker_connection_retry\n"))
    [spec] = book.plays[0].files
    desired = DesiredFile(
        spec, spec.path, b"broker_connection_retry = True\n", {}, ("broker_connection_retry",)
    )
    with pytest.raises(PlaybookError, match="both set by template t.j2 and listed in `absent:`"):
        plan_file(desired, facts(b"x = 1\n"), Masker())
