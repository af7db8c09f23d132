"""`remediate report merge` refuses an incomplete or inconsistent set of shard reports.

A merge of shards 1/2 alone used to give a report of half the fleet that looked complete;
now each shard report says which K/N it is and the merge checks the set. Reports are made
with the real report code (plan_json) from empty plans; the fleet test in
test_audit_fleet.py does the same with reports of a real sharded run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remediate.report.plans import check_shards, dumps, merge_reports, plan_json
from tests.conftest import run_cli


def shard_report(tmp_path: Path, index: int, count: int, name: str | None = None) -> Path:
    path = tmp_path / (name or f"shard-{index}-of-{count}.json")
    path.write_text(dumps(plan_json([], kind="audit", exit_code=0, shard=(index, count))))
    return path


def merge(*paths: Path) -> tuple[int, str, str]:
    result = run_cli("report", "merge", *map(str, paths))
    return result.returncode, result.stdout, result.stderr


def test_a_complete_set_merges_and_the_merge_is_not_a_shard(tmp_path: Path) -> None:
    code, out, err = merge(*(shard_report(tmp_path, k, 3) for k in (3, 1, 2)))
    assert (code, err) == (0, "")
    assert "shard" not in json.loads(out)


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([(1, 2)], "shard 2/2 missing (got 1/2)"),
        ([(2, 4), (4, 4)], "shards 1/4, 3/4 missing (got 2/4, 4/4)"),
        ([(1, 2), (2, 3), (2, 2)], "shard reports of different splits"),
    ],
)
def test_an_incomplete_or_mixed_set_is_refused(
    tmp_path: Path, shards: list[tuple[int, int]], message: str
) -> None:
    code, out, err = merge(*(shard_report(tmp_path, k, n) for k, n in shards))
    assert (code, out) == (1, "")
    assert err.startswith("remediate: error: cannot merge: ") and message in err, err
    assert err.count("\n") == 1


def test_a_repeated_shard_is_refused_naming_both_files(tmp_path: Path) -> None:
    first = shard_report(tmp_path, 1, 2, "a.json")
    again = shard_report(tmp_path, 1, 2, "b.json")
    code, _, err = merge(first, again, shard_report(tmp_path, 2, 2))
    assert code == 1 and f"shard 1/2 given twice ({first} and {again})" in err, err


def test_shards_and_unsharded_reports_do_not_mix(tmp_path: Path) -> None:
    whole = tmp_path / "whole.json"
    whole.write_text(dumps(plan_json([], kind="audit", exit_code=0)))
    code, _, err = merge(shard_report(tmp_path, 1, 1), whole)
    assert code == 1 and f"with unsharded ones ({whole})" in err, err
    assert merge(whole, whole)[0] == 0  # unsharded reports merge as before


def test_older_shard_reports_are_known_by_their_inputs() -> None:
    old = {**plan_json([], exit_code=0), "inputs": {"shard": "1/2"}}
    with pytest.raises(ValueError, match="shard 2/2 missing"):
        merge_reports([old])
    check_shards([None, None], ["a", "b"])  # no shards: nothing to check


def test_an_empty_list_or_no_file_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]\n")
    code, _, err = merge(empty)
    assert code == 1 and err == (
        f"remediate: error: cannot merge: {empty}: not a report (a JSON "
        "list, expected the object `plan --format json` or `audit "
        "--report` writes)\n"
    )
    none = run_cli("report", "merge")
    assert none.returncode == 64 and "Missing argument" in none.stderr
    assert "Traceback" not in none.stderr + err
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"schema": 1, "kind": "plan"}')
    code, _, err = merge(garbled)
    assert code == 1 and "(no hosts, exit_code)" in err and str(garbled) in err
