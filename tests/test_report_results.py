"""The views a person reads after plan, apply and runs: counted nouns, the totals lines,
handlers with their checks, the saved plan's dry run, and the runs table."""

from __future__ import annotations

import pytest

from remediate.model.outcomes import HostApplyResult, HostOutcome
from remediate.model.plans import FilePlan, HostPlan, RuntimeChange
from remediate.model.runs import HandlerResult, Manifest, ManifestFile
from remediate.report.apply import applied_totals, apply_json, apply_lines, handler_line
from remediate.report.plans import plan_text, plan_totals
from remediate.report.runs import runs_json, runs_lines
from remediate.report.saved import saved_plan_lines
from remediate.report.words import plural


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [
        (0, "host", "0 hosts"),
        (1, "host", "1 host"),
        (2, "file", "2 files"),
        (1, "live setting", "1 live setting"),
        (3, "restart", "3 restarts"),
        (1, "run", "1 run"),
        (2, "entry", "2 entries"),
    ],
)
def test_plural(count: int, noun: str, text: str) -> None:
    assert plural(count, noun) == text


def file(
    path: str, exists: bool = True, changed: bool = True, handlers: tuple[str, ...] = ()
) -> FilePlan:
    return FilePlan(
        path,
        "redis",
        "merge",
        "t.j2",
        exists,
        "a" if exists else "",
        "b" if changed else ("a" if exists else ""),
        "0644",
        "root",
        "root",
        handlers=handlers,
    )


LIVE = RuntimeChange("redis", "timeout", "300", "0")


def host(name: str, *files: FilePlan, live: int = 0, **kw: str) -> HostPlan:
    return HostPlan(name, "127.0.0.1", files, (LIVE,) * live, **kw)  # type: ignore[arg-type]


def test_the_plan_ends_with_its_totals() -> None:
    plans = [
        host(
            "a",
            file("/x", handlers=("restart r",)),
            file("/y", handlers=("restart r",)),
            file("/new", exists=False, handlers=("restart q",)),
            live=2,
        ),
        host("b", file("/x", changed=False)),
        host("c", file("/x"), unreachable="refused"),
    ]
    assert plan_totals(plans) == "Plan: 2 files to change, 1 to create, 2 live settings, 2 restarts"
    assert plan_text(plans)[-1] == ("bold", plan_totals(plans))
    assert (
        plan_totals([host("b")])
        == "Plan: 0 files to change, 0 to create, 0 live settings, 0 restarts"
    )
    one = [host("a", file("/x", handlers=("h",)), live=1)]
    assert plan_totals(one) == "Plan: 1 file to change, 0 to create, 1 live setting, 1 restart"


def test_apply_shows_handlers_with_their_checks_and_ends_with_totals() -> None:
    plan = host("a", file("/x", handlers=("restart redis",)), file("/n", exists=False), live=1)
    good = HandlerResult("restart redis", "systemctl restart redis-server", "redis_ping", True)
    bad = HandlerResult("restart q", "sh restart-q", None, False, "exit 3: boom\nno such unit")
    results = [
        HostApplyResult("a", "127.0.0.1", "changed", plan, "r1", handlers=(good,)),
        HostApplyResult("b", "127.0.0.2", "rolled back", plan, "r2", handlers=(bad,), error="x"),
        HostApplyResult("c", "127.0.0.3", "unreachable", error="refused"),
    ]
    lines = [text for _, text in apply_lines(results)]
    assert (
        "    handler 'restart redis' (systemctl restart redis-server): ok, check redis_ping passed"
        in lines
    )
    assert "    handler 'restart q' (sh restart-q): failed: no such unit" in lines
    assert lines[-2] == "3 hosts: 1 changed, 1 rolled back, 1 unreachable"
    assert lines[-1] == "Applied: 1 file changed, 1 created, 1 live setting, 1 restart"
    assert applied_totals([]) == "Applied: 0 files changed, 0 created, 0 live settings, 0 restarts"
    assert [t for _, t in apply_lines([])][-2] == "0 hosts"
    doc = apply_json(results, 1)
    assert doc["hosts"][0]["handlers"] == [
        {
            "name": "restart redis",
            "command": "systemctl restart redis-server",
            "check": "redis_ping",
            "ok": True,
            "output": "",
        }
    ]
    assert doc["totals"] == lines[-1]
    assert handler_line(HandlerResult("h", "true", None, True)) == "handler 'h' (true): ok"


def test_a_saved_plan_dry_run_says_which_hosts_it_still_applies_to() -> None:
    saved = [host("a", file("/x")), host("bb", file("/x", changed=False)), host("c", file("/x"))]
    lines = saved_plan_lines(saved, {"c": "stale plan: /x changed since the plan was made"})
    assert [t for _, t in lines] == [
        "",
        "a  : the saved plan still applies",
        "bb : nothing to change in the saved plan",
        "c  : would be refused: stale plan: /x changed since the plan was made",
        "1 host of 3 would be refused",
    ]


def manifest(run_id: str, kind: str = "apply", of_run: str = "") -> Manifest:
    f = ManifestFile("/etc/redis/redis.conf", True, "a", "b", "0640", 0, 0, "redis", "redis", None)
    return Manifest(run_id, "h", kind, "applied", run_id[:16], of_run=of_run, files=(f,))


def test_runs_are_one_table_newest_first_in_text_and_json() -> None:
    old, new = manifest("20261201T100000Z-aa"), manifest("20261202T100000Z-bb", "rollback")
    outcomes = [
        HostOutcome("host1", [old, new]),
        HostOutcome("host-two", [old]),
        HostOutcome("host3", unreachable="connection refused"),
    ]
    lines = [t for _, t in runs_lines(outcomes)]
    # the fleet's runs, one row each (issue 17: one run id across the hosts), newest first
    assert lines[0].split() == ["RUN", "STARTED", "COMMAND", "HOSTS", "CHANGED", "FAILED"]
    assert lines[1].split()[0] == "20261202T100000Z-bb"
    assert lines[2].split()[0] == "20261201T100000Z-aa"
    assert lines[2].split()[3] == "2"  # the older run touched both reachable hosts
    assert lines[0].index("STARTED") == lines[1].index("2026", len("20261202T100000Z-bb"))
    assert lines[-1] == "host3: connection refused"
    doc = runs_json(outcomes, 4)
    assert [r["run_id"] for r in doc["runs"]] == [new.run_id, old.run_id]
    assert [r["run_id"] for r in doc["hosts"][0]["runs"]] == [new.run_id, old.run_id]
    assert doc["order"] == "newest first"


def test_audit_counts_one_host_and_one_finding_in_the_singular() -> None:
    from remediate.report.audit import audit_summary

    finding = {"suppressed": False, "severity": "warning", "rule": "CEL004"}
    doc = {
        "exit_code": 2,
        "hosts": [
            {
                "host": "a",
                "status": "ok",
                "findings": [finding],
                "files": [],
                "runtime_changes": [],
                "unreachable": "",
                "failed": "",
            }
        ],
        "recap": {"hosts": 1, "changed": 0, "unreachable": 0, "failed": 0, "findings": 1},
    }
    assert audit_summary(doc).splitlines() == [
        "a: 1 finding (CEL004)",
        "1 host: 0 drifted, 0 unreachable, 0 failed, 1 finding",
    ]
