"""The pure planner from fixture tables, without hosts (pyinfra's style of operation tests).

Each case in tests/fixtures/planner/*.json is what a gather recorded on a host (file bytes from a
fixture file, mode, and the running server's facts) plus a play of the shipped playbook; its
templates are rendered with the shipped templates/ exactly as `plan` does, and the host plan
the planner makes (files, settings, live changes, drift, findings) must equal the case's
``expected`` JSON. The fleet tests prove the same on real hosts; these prove the planner alone.

After a deliberate change of the planner, rewrite the expectations and review the diff:
    REMEDIATE_REGENERATE=1 .venv/bin/python -m pytest tests/test_planner_table.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from remediate.model.facts import FileFact, HostFacts, RabbitRuntime, RedisRuntime
from remediate.model.plans import to_json
from remediate.model.secrets import Masker, secret_vars
from remediate.plan.planner import DesiredFile, MergeCache, host_findings, host_plan, plan_file
from remediate.playbook.render import Renderer
from remediate.playbook.schema import load_playbook
from remediate.playbook.targets import absent_settings, template_vars

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = sorted((FIXTURES / "planner").glob("*.json"))


def facts_of(case: dict[str, Any]) -> HostFacts:
    files = {}
    for path, recorded in case["files"].items():
        if recorded.get("absent"):
            files[path] = FileFact(path, False)
            continue
        content = (FIXTURES / recorded["fixture"]).read_bytes()
        files[path] = FileFact(
            path,
            True,
            content,
            hashlib.sha256(content).hexdigest(),
            recorded["mode"],
            0,
            0,
            "root",
            "root",
        )
    redis = RedisRuntime(**case["redis"]) if "redis" in case else None
    rabbit = RabbitRuntime(**case["rabbitmq"]) if "rabbitmq" in case else None
    return HostFacts(files, redis, rabbit)


def plan_case(case: dict[str, Any]) -> dict[str, Any]:
    """What `plan` makes of the recorded host, by the same steps as engine/survey.py."""
    playbook = load_playbook(ROOT / "playbooks" / "site.yml")
    [play] = [p for p in playbook.plays if p.name == case["play"]]
    renderer = Renderer(ROOT / "templates")
    variables = {
        **play.defaults,
        **case.get("vars", {}),
        **play.vars,
        "inventory_hostname": "host1",
        "group_names": [],
    }
    facts, cache, masker = facts_of(case), MergeCache(), Masker(secret_vars(variables))
    planned = []
    for spec in play.files:
        fact = facts.files[spec.path]
        live_settings = (
            cache.settings("celery", spec.path, fact.content)
            if spec.kind == "celery" and fact.exists
            else {}
        )
        seen = template_vars(variables, live_settings)
        rendered = renderer.render(spec.template, seen)
        absent = absent_settings(spec, renderer, seen)
        planned.append(
            plan_file(
                DesiredFile(spec, spec.path, rendered, play.handlers, absent), facts, masker, cache
            )
        )
    plan = host_plan("host1", "127.0.0.1", planned, facts, masker)
    findings = host_findings(planned, facts, variables, masker, cache)
    data = to_json(plan)
    data["findings"] = to_json(findings)
    data["status"] = "changed" if plan.changed else "ok"
    return data


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_planner_makes_the_expected_host_plan(path: Path) -> None:
    case = json.loads(path.read_text())
    got = plan_case(case)
    if os.environ.get("REMEDIATE_REGENERATE"):
        case["expected"] = got
        path.write_text(json.dumps(case, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert "expected" in case, f"{path.name}: no expectation yet (see this module's docstring)"
    assert got == case["expected"]


def test_the_table_covers_each_kind_and_each_way_a_change_takes_effect() -> None:
    seen_kinds, seen_effects, statuses = set(), set(), set()
    for path in CASES:
        expected = json.loads(path.read_text())["expected"]
        statuses.add(expected["status"])
        for f in expected["files"]:
            seen_kinds.add(f["kind"])
            seen_effects |= {c["effect"] for c in f["changes"]}
    assert {"redis", "rabbitmq", "systemd", "celery"} <= seen_kinds
    assert {"live", "restart"} <= seen_effects
    assert statuses == {"changed", "ok"}
    unknown = json.loads(
        (FIXTURES / "planner" / "redis-unknown-plans-no-live-change.json").read_text()
    )
    redis = unknown["expected"]["facts"]["redis"]
    assert redis["state"].startswith("unknown: ") and redis["pending"]
    assert unknown["expected"]["runtime_changes"] == [] == unknown["expected"]["drift"]


def test_no_secret_of_a_recorded_file_reaches_a_plan() -> None:
    case = json.loads((FIXTURES / "planner" / "celery-redis-drift.json").read_text())
    assert (
        b"s3cret" in (FIXTURES / case["files"]["/srv/app/celeryconfig.py"]["fixture"]).read_bytes()
    )
    assert "s3cret" not in json.dumps(plan_case(case))


def test_every_kind_a_playbook_may_manage_says_how_it_takes_effect() -> None:
    from remediate.plan.effects import EFFECT_BY_KIND
    from remediate.playbook.schema import MANAGED_KINDS

    assert set(MANAGED_KINDS) <= set(EFFECT_BY_KIND)


def test_a_lint_only_kind_in_a_playbook_is_one_clear_error(tmp_path: Path) -> None:
    from remediate.errors import PlaybookError

    book = tmp_path / "site.yml"
    book.write_text(
        "- hosts: all\n  files:\n    - kind: python-lock\n      path: /srv/app/uv.lock\n"
        "      template: t.j2\n"
    )
    with pytest.raises(PlaybookError) as caught:
        load_playbook(book)
    assert caught.value.line == 3 and "read by lint only" in caught.value.message
