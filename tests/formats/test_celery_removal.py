"""Removing a setting from a celery file (a playbook's ``absent:``), in every style a file can
set it: only the definition goes, every other byte stays, and the note keeps the comment that
was on the removed line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate.formats import ABSENT, parse
from remediate.formats.celery_config import CeleryDocument
from remediate.formats.celery_values import same_value
from tests.formats.test_celery_config import config_modules
from tests.paths import CORPUS

APP = "from celery import Celery\n\napp = Celery('billing')\n"


def celery(text: str | bytes, path: str = "celeryconfig.py") -> CeleryDocument:
    doc = parse("celery", text.encode() if isinstance(text, str) else text, path)
    assert isinstance(doc, CeleryDocument)
    return doc


@pytest.mark.parametrize(
    ("before", "after", "note"),
    [
        # module-level assignment, a comment above it (kept) and one after it (in the note)
        (
            "# forum advice\nbroker_heartbeat = 10  # per the wiki\ntask_acks_late = True\n",
            "# forum advice\ntask_acks_late = True\n",
            "removed line 2 (its comment: # per the wiki)",
        ),
        # old upper-case spelling: the new name finds it
        (
            "BROKER_URL = 'redis://r'\nBROKER_HEARTBEAT = 10\nCELERY_ACKS_LATE = True\n",
            "BROKER_URL = 'redis://r'\nCELERY_ACKS_LATE = True\n",
            "removed line 2",
        ),
        # one statement of several on a line
        ("x = 1; broker_heartbeat = 10; y = 2\n", "x = 1; y = 2\n", "removed line 1"),
        # app.conf.X = ...
        (
            APP + "app.conf.broker_heartbeat = 10  # forum\napp.conf.task_acks_late = True\n",
            APP + "app.conf.task_acks_late = True\n",
            "removed line 4 (its comment: # forum)",
        ),
        # app.conf['X'] = ...
        (
            APP + "app.conf['broker_heartbeat'] = 10\napp.conf.task_acks_late = True\n",
            APP + "app.conf.task_acks_late = True\n",
            "removed line 4",
        ),
        # a keyword in the middle of a multi-line update(...)
        (
            APP
            + "app.conf.update(\n    broker_heartbeat=10,  # forum\n    task_acks_late=True,\n)\n",
            APP + "app.conf.update(\n    task_acks_late=True,\n)\n",
            "removed line 5 (its comment: # forum)",
        ),
        # the last keyword, trailing comma: the line before keeps its own comment
        (
            APP + "app.conf.update(\n    task_acks_late=True,  # keep\n"
            "    broker_heartbeat=10,  # forum\n)\n",
            APP + "app.conf.update(\n    task_acks_late=True,  # keep\n)\n",
            "removed line 6 (its comment: # forum)",
        ),
        # the last keyword without a trailing comma
        (
            APP + "app.conf.update(\n    task_acks_late=True,  # keep\n"
            "    broker_heartbeat=10  # forum\n)\n",
            APP + "app.conf.update(\n    task_acks_late=True,  # keep\n)\n",
            "removed line 6 (its comment: # forum)",
        ),
        # update({...}): last key with and without a trailing comma
        (
            APP + "app.conf.update({\n    'task_acks_late': True,  # keep\n"
            "    'broker_heartbeat': 10,  # forum\n})\n",
            APP + "app.conf.update({\n    'task_acks_late': True,  # keep\n})\n",
            "removed line 6 (its comment: # forum)",
        ),
        (
            APP + "app.conf.update({\n    'task_acks_late': True,  # keep\n"
            "    'broker_heartbeat': 10  # forum\n})\n",
            APP + "app.conf.update({\n    'task_acks_late': True,  # keep\n})\n",
            "removed line 6 (its comment: # forum)",
        ),
        # a comment on its own line above the removed keyword stays
        (
            APP + "app.conf.update(\n    task_acks_late=True,\n    # forum advice\n"
            "    broker_heartbeat=10,\n)\n",
            APP + "app.conf.update(\n    task_acks_late=True,\n    # forum advice\n)\n",
            "removed line 7",
        ),
        # one line update(...)
        (
            APP + "app.conf.update(broker_heartbeat=10, task_acks_late=True)  # both\n",
            APP + "app.conf.update(task_acks_late=True)  # both\n",
            "removed line 4 (its comment: # both)",
        ),
        # every definition goes; the comments of both are in the note
        (
            "broker_heartbeat = 10  # one\nx = 1\nbroker_heartbeat = 20  # two\n",
            "x = 1\n",
            "removed lines 1 and 3 (their comments: # one; # two)",
        ),
        # CRLF files stay CRLF
        (
            "a = 1\r\nbroker_heartbeat = 10\r\nb = 2\r\n",
            "a = 1\r\nb = 2\r\n",
            "removed line 2",
        ),
    ],
)
def test_remove_in_every_style(before: str, after: str, note: str) -> None:
    doc = celery(before)
    edit = doc.remove("broker_heartbeat")
    assert edit is not None and edit.note == note
    assert doc.dump().decode() == after
    assert doc.current("broker_heartbeat") is ABSENT
    assert celery(doc.dump()).dump() == doc.dump()


def test_remove_a_transport_option_entry() -> None:
    doc = celery(
        "broker_transport_options = {\n    'visibility_timeout': 3600,\n"
        "    'retry_on_timeout': True,  # duplicates publishes\n}\n"
    )
    edit = doc.remove("broker_transport_options['retry_on_timeout']")
    assert edit is not None and edit.note == "removed line 3 (its comment: # duplicates publishes)"
    assert doc.dump() == b"broker_transport_options = {\n    'visibility_timeout': 3600,\n}\n"


def test_removing_what_is_not_there_changes_nothing() -> None:
    text = APP + "app.conf.update(task_acks_late=True)\nbroker_heartbeat = 10\n"
    doc = celery(text)  # an app module: a plain variable is code, not a setting
    assert doc.remove("broker_heartbeat") is None
    assert doc.dump() == text.encode()


def _only_deletions(before: str, after: str) -> bool:
    """Whether ``after`` is ``before`` less some lines (a line holding ``;`` may be edited;
    when the last line goes, so may the line end before it in a file without a final one)."""
    a, b = before.splitlines(), after.splitlines()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "insert" or (tag == "replace" and not any(";" in line for line in a[i1:i2])):
            return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_modules(), st.sampled_from(["broker_heartbeat", "worker_concurrency", "x"]))
def test_generated_removals_delete_only_the_definitions(
    generated: tuple[str, dict[str, Any]], name: str
) -> None:
    text, _ = generated
    doc = celery(text.encode())
    before = doc.settings()
    spellings = [k for k in before if doc._name_of(k) == doc._name_of(name)]  # old and new
    edit = doc.remove(name)
    out = doc.dump().decode()
    if not spellings:
        assert edit is None and out == text
        return
    again = celery(out.encode())
    assert again.dump() == out.encode()  # still a file the format round-trips
    assert again.current(name) is ABSENT and not set(spellings) & set(again.settings())
    for other, value in before.items():
        if other not in spellings:
            assert same_value(again.settings()[other], value), other
    assert _only_deletions(text, out), (text, out)


CORPUS_FILES = sorted((CORPUS / "celery").glob("*.py"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_every_setting_of_a_real_file_can_be_removed_alone(path: Path) -> None:
    data = path.read_bytes()
    names = list(celery(data, str(path)).settings())
    for name in names:
        doc = celery(data, str(path))
        doc.remove(doc._name_of(name))
        again = celery(doc.dump(), str(path))
        left = again.settings()
        assert name not in left, name
        kept = {k: v for k, v in celery(data, str(path)).settings().items() if k != name}
        for other, value in kept.items():
            if doc._name_of(other) != doc._name_of(name):
                assert same_value(left[other], value), (name, other)
