"""The README's examples, run as written: the plan sample, the pre-commit rev, the GitHub
Actions workflows (schema-checked, and each `remediate` line run against the local example),
and the cron line."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from remediate import __version__

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def code_blocks() -> list[str]:
    """The README's indented code blocks, dedented."""
    blocks: list[list[str]] = []
    current: list[str] = []
    previous_blank = True
    for line in README.splitlines():
        if line.startswith("    ") and (current or previous_blank):
            current.append(line[4:])
        elif not line.strip() and current:
            current.append("")
        else:
            if current:
                blocks.append(current)
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append(current)
    return ["\n".join(block).strip("\n") + "\n" for block in blocks]


def workflow_texts() -> list[str]:
    found = [b for b in code_blocks() if re.search(r"^jobs:", b, re.MULTILINE)]
    assert len(found) == 2  # lint with SARIF upload, the sharded plan
    return found


def workflows() -> list[dict[str, Any]]:
    """The workflows parsed (PyYAML reads the key ``on`` as True: only ``jobs`` is used)."""
    return [yaml.safe_load(text) for text in workflow_texts()]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A directory like a user's: an inventory of the local example host only (no playbook or
    templates: the shipped ones), its files, and a config/ tree for lint."""
    (tmp_path / "inventory" / "host_vars").mkdir(parents=True)
    (tmp_path / "inventory" / "hosts.yml").write_text(
        "all:\n  children:\n"
        + "".join(f"    {group}: {{hosts: {{example: }}}}\n" for group in ("redis", "workers"))
    )
    (tmp_path / "inventory" / "host_vars" / "example.yml").write_text(
        "ansible_connection: local\nremediate_root: examples/host\n"
    )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "examples" / "host" / "etc", tmp_path / "config")
    return tmp_path


def _sh(
    line: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})}
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_plan_sample_is_what_plan_prints() -> None:
    start = README.index("A plan of the bundled example (`remediate plan -l example --summary`):")
    sample = next(b for b in code_blocks() if b.startswith("example  example"))
    assert README.index(sample.splitlines()[0]) > start
    # in a PID namespace of its own, as on a fresh machine: no redis-server of another test runs
    # there (the local example's live state depends on what runs on the machine)
    result = subprocess.run(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            str(BIN / "remediate"),
            "plan",
            "-l",
            "example",
            "--summary",
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    for line in sample.splitlines():
        if "..." not in line:  # the sample abbreviates long lines with ...
            assert line.rstrip() in printed, line
    assert printed[-2:] == sample.splitlines()[-2:]


def test_pre_commit_rev_is_the_version_tag() -> None:
    [rev] = re.findall(r"^\s+rev: (\S+)", README, re.MULTILINE)
    assert rev == f"v{__version__}"
    installs = re.findall(r'git\+https://[^"@]+@(v[\d.]+)', README)
    assert installs and set(installs) == {rev}


def test_workflows_are_valid_github_workflows(tmp_path: Path) -> None:
    checker = shutil.which("check-jsonschema", path=str(BIN))
    assert checker, "check-jsonschema (a test dependency) is not installed"
    for index, (text, workflow) in enumerate(zip(workflow_texts(), workflows())):
        path = tmp_path / f"workflow{index}.yml"
        path.write_text(text)  # exactly as the README has it
        checked = subprocess.run(
            [checker, "--builtin-schema", "vendor.github-workflows", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for job in workflow["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest"
            uses = [step.get("uses", "") for step in job["steps"]]
            runs = [step.get("run", "") for step in job["steps"]]
            if any("remediate " in r and "pip install" not in r for r in runs):
                assert any("pip install" in r for r in runs)  # installed before it is used
            if any(r.startswith(("remediate plan", "remediate lint")) for r in runs):
                assert "actions/checkout@v4" in uses  # the inventory / config lives there
            if any("upload-sarif" in u for u in uses):
                assert job["permissions"]["security-events"] == "write"
    # a broken workflow is refused: the check can fail
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: [push]\njobs:\n  a:\n    steps: [{run: echo}]\n")
    refused = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1 and "runs-on" in refused.stdout


def _remediate_lines(job: dict[str, Any]) -> list[str]:
    return [
        step["run"]
        for step in job["steps"]
        if "run" in step and step["run"].startswith("remediate ")
    ]


def test_the_sharded_plan_workflow_runs_as_written(example: Path) -> None:
    [workflow] = [w for w in workflows() if "report" in w["jobs"]]
    plan_job, report_job = workflow["jobs"]["plan"], workflow["jobs"]["report"]
    [plan_line] = _remediate_lines(plan_job)
    started = int(time.time())
    for shard in plan_job["strategy"]["matrix"]["shard"]:
        line = plan_line.replace("${{ matrix.shard }}", str(shard))
        assert "${{" not in line
        ran = _sh(line, example)
        assert ran.returncode == 0, ran.stderr  # `|| true`: the exit code is in the JSON
        doc = json.loads((example / f"plan-{shard}.json").read_text())
        assert doc["shard"] == {"index": shard, "count": 4} and doc["timestamp"] >= started
    [merge_line] = _remediate_lines(report_job)
    merged = _sh(merge_line, example)
    whole = _sh("remediate plan --detailed-exitcode --format json > whole.json", example)
    assert (
        merged.returncode
        == whole.returncode
        == json.loads((example / "plan.json").read_text())["exit_code"]
    ), merged.stderr
    assert merged.stderr == ""
    prom = (example / "plan.prom").read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(prom)
        for s in family.samples
    }
    assert samples[("remediate_audit_timestamp_seconds", ())] >= started  # fresh, not 0
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run([promtool, "check", "metrics"], input=prom, text=True, check=False)
        assert checked.returncode == 0


def test_the_sarif_workflow_runs_as_written(example: Path) -> None:
    [workflow] = [w for w in workflows() if "lint" in w["jobs"]]
    [line] = _remediate_lines(workflow["jobs"]["lint"])
    ran = _sh(line, example)
    assert ran.returncode == 2, ran.stderr  # findings: the step fails, the upload still runs
    sarif = json.loads((example / "remediate.sarif").read_text())
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert "config/redis/redis.conf" in uris or any(
        u.endswith("config/redis/redis.conf") for u in uris
    )
    annotations = _sh("remediate lint config/ --format github", example)
    assert annotations.stdout.startswith("::")


def test_the_cron_line_names_remediate_by_its_absolute_path(example: Path, tmp_path: Path) -> None:
    [cron] = [line for line in README.splitlines() if line.startswith("    */30 * * * * ")]
    command = cron.split(None, 5)[5]
    words = shlex.split(command)
    program = words[words.index("&&") + 1]
    assert program.startswith("/") and program.endswith("/remediate")
    # run it as cron would (PATH=/usr/bin:/bin), its directories moved under tmp_path
    places = {
        "/srv/remediate": example,
        "/var/lib/remediate": tmp_path / "state",
        "/var/log/remediate": tmp_path / "log",
        "/var/lib/node_exporter/textfile": tmp_path / "textfile",
    }
    for place in list(places.values())[1:]:
        place.mkdir()
    (example / ".venv" / "bin").mkdir(parents=True)
    (example / ".venv" / "bin" / "remediate").symlink_to(BIN / "remediate")
    for old, new in places.items():
        command = command.replace(old, str(new))
    ran = subprocess.run(
        ["sh", "-c", command],
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode in (0, 1, 2), ran.stderr  # clean, failed (live state unknown), drift
    report = json.loads((tmp_path / "state" / "audit.json").read_text())
    assert report["kind"] == "audit" and report["exit_code"] == ran.returncode
    assert (tmp_path / "textfile" / "remediate.prom").read_text().count("remediate_audit_success")
    assert "example: ran remediate-gather: exit 0" in (tmp_path / "log" / "audit.log").read_text()
