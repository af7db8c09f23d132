"""The fleet benchmark's figures: series of measurements, the results table, the targets, RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from process_meter import Measurement

BASELINE = "baseline: paramiko connect + cat"
PLAN = "remediate plan"
APPLY = "remediate apply --yes"
ROLLBACK = "remediate rollback --last --yes"
APPLY_ROLLBACK = "remediate apply + rollback"
AUDIT = "remediate audit (compliant fleet)"
ANSIBLE = "ansible-playbook --check --diff"
PYINFRA = "pyinfra --dry --diff"
TOOLS_IN_TABLE_ORDER = (BASELINE, PLAN, AUDIT, APPLY, ROLLBACK, APPLY_ROLLBACK, ANSIBLE, PYINFRA)
REMEDIATE_FLEET_TOOLS = (PLAN, AUDIT, APPLY, ROLLBACK)


@dataclass
class Series:
    """Every timed run of one tool at one fleet size (or why it stopped)."""

    tool: str
    hosts: int
    runs: list[Measurement] = field(default_factory=list)
    failure: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(m.seconds for m in self.runs) if self.runs else None

    @property
    def peak_rss(self) -> int:
        return max((m.max_rss for m in self.runs), default=0)

    @property
    def peak_tree_rss(self) -> int:
        return max((m.tree_rss for m in self.runs), default=0)


def combined(tool: str, parts: Sequence[Series]) -> Series:
    """Per round, the sum of the parts' times (and the larger of their memory peaks)."""
    rounds = min(len(p.runs) for p in parts)
    runs = [
        Measurement(
            seconds=sum(p.runs[i].seconds for p in parts),
            returncode=max(p.runs[i].returncode for p in parts),
            max_rss=max(p.runs[i].max_rss for p in parts),
            tree_rss=max(p.runs[i].tree_rss for p in parts),
            timed_out=any(p.runs[i].timed_out for p in parts),
        )
        for i in range(rounds)
    ]
    failure = next((p.failure for p in parts if p.failure), None)
    return Series(tool, parts[0].hosts, runs, failure)


def find(series: Sequence[Series], tool: str, hosts: int) -> Series | None:
    return next((s for s in series if s.tool == tool and s.hosts == hosts), None)


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).rjust(w) if i in right else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            )
            + " |"
        )

    rule = (
        "| "
        + " | ".join(("-" * (w - 1) + ":") if i in right else "-" * w for i, w in enumerate(widths))
        + " |"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def results_table(series: Sequence[Series]) -> str:
    headers = (
        "tool",
        "hosts",
        "median s",
        "x baseline",
        "peak RSS MiB (largest process)",
        "peak RSS MiB (process tree)",
        "runs, s",
    )
    rows = []
    ordered = sorted(series, key=lambda s: (s.hosts, TOOLS_IN_TABLE_ORDER.index(s.tool)))
    for s in ordered:
        base = find(series, BASELINE, s.hosts)
        median, base_median = s.median, base.median if base else None
        ratio = f"{median / base_median:.2f}" if median is not None and base_median else "-"
        runs = " ".join(f"{m.seconds:.2f}" for m in s.runs)
        if s.failure:
            runs = (runs + "; " if runs else "") + f"FAILED: {s.failure}"
        rows.append(
            (
                s.tool,
                str(s.hosts),
                f"{median:.2f}" if median is not None else "-",
                ratio,
                f"{s.peak_rss / 2**20:.0f}" if s.runs else "-",
                f"{s.peak_tree_rss / 2**20:.0f}" if s.runs else "-",
                runs,
            )
        )
    return markdown_table(headers, rows, right=(1, 2, 3, 4, 5))


@dataclass(frozen=True)
class Target:
    """One of the issue's targets and what this run measured against it."""

    name: str
    measured: str
    verdict: str  # "pass", "miss" or "not measured"


def _ratio_target(
    name: str,
    series: Sequence[Series],
    hosts: int,
    numerator: str,
    denominator: str,
    limit: float,
    at_most: bool,
) -> Target:
    top, bottom = find(series, numerator, hosts), find(series, denominator, hosts)
    if not (
        top and bottom and top.median and bottom.median and not top.failure and not bottom.failure
    ):
        return Target(name, "-", "not measured")
    ratio = top.median / bottom.median
    good = ratio <= limit if at_most else ratio >= limit
    return Target(name, f"{ratio:.2f}x", "pass" if good else "miss")


def evaluate_targets(series: Sequence[Series], help_median: float | None) -> list[Target]:
    """Issue 19's targets. A size that was not run is "not measured"."""
    targets = [
        _ratio_target(f"plan <= 1.3x baseline at {n} hosts", series, n, PLAN, BASELINE, 1.3, True)
        for n in (50, 200, 500)
    ]
    targets += [
        _ratio_target(
            f"audit (compliant fleet) <= 1.2x baseline at {n} hosts",
            series,
            n,
            AUDIT,
            BASELINE,
            1.2,
            True,
        )
        for n in (50, 200, 500)
    ]
    targets += [
        _ratio_target(
            f"apply+rollback <= 3x baseline at {n} hosts",
            series,
            n,
            APPLY_ROLLBACK,
            BASELINE,
            3.0,
            True,
        )
        for n in (50, 200)
    ]
    targets += [
        _ratio_target(
            "plan >= 2.7x faster than pyinfra at 50 hosts", series, 50, PYINFRA, PLAN, 2.7, False
        ),
        _ratio_target(
            "plan >= 35x faster than Ansible at 50 hosts", series, 50, ANSIBLE, PLAN, 35.0, False
        ),
    ]
    for hosts, limit_mb in ((200, 250), (500, 300)):
        ours = [
            s for s in series if s.hosts == hosts and s.tool in REMEDIATE_FLEET_TOOLS and s.runs
        ]
        name = (
            f"controller peak RSS at {hosts} hosts < {limit_mb} MB (plan, audit, apply, rollback)"
        )
        if ours:
            peak = max(s.peak_rss for s in ours)
            targets.append(
                Target(
                    name,
                    f"{peak / 1e6:.0f} MB ({peak / 2**20:.0f} MiB)",
                    "pass" if peak < limit_mb * 1e6 else "miss",
                )
            )
        else:
            targets.append(Target(name, "-", "not measured"))
    name = "`remediate --help` < 0.1 s (median of 20)"
    if help_median is None:
        targets.append(Target(name, "-", "not measured"))
    else:
        targets.append(
            Target(name, f"{help_median:.3f} s", "pass" if help_median < 0.1 else "miss")
        )
    return targets


def targets_table(targets: Sequence[Target]) -> str:
    return markdown_table(
        ("target", "measured", "verdict"), [(t.name, t.measured, t.verdict) for t in targets]
    )


@dataclass(frozen=True)
class RunContext:
    """What RESULTS.md says about the run besides the figures."""

    date: str
    command: str
    machine: str
    versions: Sequence[tuple[str, str]]
    runs: int
    notes: Sequence[str]


def results_markdown(
    context: RunContext,
    series: Sequence[Series],
    targets: Sequence[Target],
    help_runs: Sequence[float],
    lint_output: str | None,
    how: Callable[[], Sequence[str]],
) -> str:
    versions = "\n".join(f"- {name}: `{version}`" for name, version in context.versions)
    help_line = (
        f"`remediate --help`: median {statistics.median(help_runs):.3f} s over {len(help_runs)} runs "
        f"(min {min(help_runs):.3f} s, max {max(help_runs):.3f} s)."
        if help_runs
        else "`remediate --help`: not measured."
    )
    lint = (
        f"```\n{lint_output.rstrip()}\n```"
        if lint_output is not None
        else "bench/lint_bench.py does not exist yet: not measured."
    )
    parts = [
        "# Fleet benchmark results",
        "",
        f"Written by `bench/fleet_bench.py` on {context.date}: `{context.command}`.",
        "Do not edit by hand: run the benchmark again (bench/README.md).",
        "",
        f"Machine: {context.machine}. The fleet's sshd and redis-server processes share these cores",
        "with the controller, so every tool also pays for the hosts' side.",
        "",
        "Versions:",
        "",
        versions,
        "",
        f"## Fleet: median of {context.runs} runs, tools interleaved per round",
        "",
        results_table(series),
        "",
        "`peak RSS (largest process)` is `ru_maxrss` from `os.wait4` on the tool's process: the largest",
        "single process of its tree (for remediate, pyinfra and the baseline: the main process; for",
        "Ansible: its main process or a forked worker, whichever was larger). `peak RSS (process tree)`",
        "sums the RSS of every process in the tool's tree, sampled every 50 ms (Ansible's workers and",
        "ssh processes included; shared pages counted once per process, so an upper bound).",
        "",
        "## Targets",
        "",
        targets_table(targets),
        "",
        "## Start-up and lint",
        "",
        help_line,
        "",
        "`remediate lint` on 1,000 files (bench/lint_bench.py):",
        "",
        lint,
        "",
        *imports_section(),
        "## How each tool ran",
        "",
        *how(),
    ]
    if context.notes:
        parts += ["", "## Notes from this run", "", *(f"- {note}" for note in context.notes)]
    return "\n".join(parts) + "\n"


IMPORTS = Path(__file__).with_name("IMPORTS.md")


def imports_section() -> list[str]:
    """bench/IMPORTS.md (written by bench/import_costs.py, see bench/README.md), when present."""
    if not IMPORTS.exists():
        return []
    return ["## Import costs (bench/import_costs.py)", "", IMPORTS.read_text().rstrip(), ""]


def machine_description() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    debian = Path("/etc/debian_version")
    system = f"Debian {debian.read_text().strip()}, " if debian.exists() else ""
    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} cores (nproc), {mem_kib / 2**20:.1f} GiB memory, "
        f"{system}Linux {platform.release()}"
    )


def how_each_tool_ran(forks: int, peer_names: Sequence[str], peers_home: Path) -> list[str]:
    """The commands behind each row of the table, for RESULTS.md."""
    lines = [
        f"- baseline: `python bench/paramiko_floor.py --forks {forks} ADDRESS...`: {forks} threads, each",
        "  a paramiko session (key auth, host key checked) running one `cat` of the four managed",
        "  files; the interpreter's start-up and paramiko's import are part of its time, as they",
        "  are of every other tool's.",
        f"- `remediate plan --forks {forks} --detailed-exitcode` in a project written by",
        "  tests.scenario.write_project (the shipped playbook and templates); output to /dev/null;",
        "  exit 2 (drift) checked every run, the JSON plan checked once (4 files drifted per host).",
        f"- `remediate apply --yes --forks {forks}`, then `remediate audit --forks {forks}` on the",
        f"  now compliant fleet (exit 0 checked), then `remediate rollback --last --yes --forks {forks}`;",
        "  the fleet is re-drifted (untimed) before every apply; the files are checked after each.",
    ]
    if "ansible" in peer_names:
        lines += [
            f"- `ansible-playbook -i INVENTORY bench/ansible/fleet_edits.yml --check --diff -f {forks}`",
            "  (INVENTORY: bench/ansible/inventory.ini.template filled in; bench/ansible/ansible.cfg:",
            "  pipelining on, `ssh_args = -C -o",
            "  ControlMaster=auto -o ControlPersist=60s` with a fresh ControlPath directory per run,",
            "  gathering explicit, interpreter /usr/bin/python3, host keys checked against the fleet's",
            "  known_hosts); checked: every host's recap shows changed=6 unreachable=0 failed=0.",
        ]
    if "pyinfra" in peer_names:
        lines += [
            f"- `pyinfra bench/pyinfra/inventory.py bench/pyinfra/deploy.py --dry --diff --parallel {forks}`",
            "  (files.line, files.directory, files.block; host keys checked against the fleet's",
            "  known_hosts); checked: every operation detects a change on every host.",
        ]
    lines += [f"- Each peer is installed by the benchmark into its own venv under {peers_home}."]
    return lines
