"""Fleet-scale benchmark: `remediate` against a paramiko baseline, ansible-core and pyinfra.

    sudo .venv/bin/python bench/fleet_bench.py [--hosts 50,200] [--runs 5] [--peers/--no-peers]

For each fleet size it starts the real SSH fleet (tests/fleet.py, a live redis-server per
host), drifts every host (tests/scenario.py: four managed files, live redis `timeout 300`),
and times, interleaving the tools in every round (the order rotates) so all see the same load:

  baseline   bench/paramiko_floor.py: 50 paramiko sessions connect and `cat` the four files
  plan       remediate plan --forks 50 --detailed-exitcode   (output to /dev/null; exit 2 = drift)
  apply      remediate apply --yes, then remediate rollback --last --yes (each timed; re-drifted)
  ansible    ansible-playbook --check --diff -f 50 (lineinfile)     fleets of up to 50 hosts
  pyinfra    pyinfra --dry --diff --parallel 50 (files.line)        fleets of up to 50 hosts

Every tool runs as a subprocess, as a user runs it; its output is checked (every host reached,
every edit found). Also `remediate --help` start-up (median of 20) and bench/lint_bench.py when it
exists. Prints the table and the targets (pass/miss, no assertions) and writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH)]

import peers
from fleet_report import (
    ANSIBLE,
    APPLY,
    APPLY_ROLLBACK,
    AUDIT,
    BASELINE,
    PLAN,
    PYINFRA,
    ROLLBACK,
    RunContext,
    Series,
    combined,
    evaluate_targets,
    how_each_tool_ran,
    machine_description,
    results_markdown,
    results_table,
    targets_table,
)
from process_meter import Measurement, measure

from tests.fleet import Fleet, FleetError
from tests.scenario import drift, drifted_redis_conf, write_project

SUBNET = 7  # 127.0.7.N: apart from the test suite's fleets (1, 2, 3, 11, ...) and gather_bench (9)
FORKS = 50
PEER_MAX_HOSTS = 50  # Ansible at 200 hosts would take several minutes per run
HELP_RUNS = 20
LOAD_EVERY = 10.0
PEER_TIMEOUT = 900.0
MANAGED_FILES = 4
DROPIN = "/etc/systemd/system/rabbitmq-server.service.d/limits.conf"
REMEDIATE = Path(sys.executable).with_name("remediate")


class StepFailure(Exception):
    """A tool failed, timed out or did not do the work: it is reported and not run again."""


def log_tail(path: Path, lines: int = 3) -> str:
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return " / ".join(line.strip() for line in tail)


class FleetBench:
    """The rounds of one fleet size: every tool, interleaved, on the same drifted fleet."""

    def __init__(
        self, fleet: Fleet, work: Path, peer_tools: dict[str, peers.PeerTool], notes: list[str]
    ) -> None:
        self.fleet = fleet
        self.hosts = len(fleet.hosts)
        self.work = work / f"{self.hosts}-hosts"
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        drift(fleet)
        self.project = write_project(fleet, self.work / "project")
        self.env = fleet.env()
        self.peer_tools = peer_tools
        tools = [BASELINE, PLAN, AUDIT, APPLY, ROLLBACK] + [
            {"ansible": ANSIBLE, "pyinfra": PYINFRA}[name] for name in peer_tools
        ]
        self.series = {tool: Series(tool, self.hosts) for tool in tools}
        self.timeout = 120.0 + self.hosts
        self.notes = notes
        self.steps_beside_rabbitmq: set[str] = set()

    # -- one tool each -----------------------------------------------------------------------
    def _checked(
        self,
        tool: str,
        argv: list[str],
        expect: int,
        label: str,
        cwd: Path | None = None,
        stdout: Path | None = None,
        timeout: float | None = None,
    ) -> Measurement:
        err = self.logs / f"{label}.err"
        m = measure(
            argv,
            env=self.env,
            cwd=cwd or self.project,
            timeout=timeout or self.timeout,
            stdout=stdout,
            stderr=err,
        )
        if m.timed_out:
            raise StepFailure(f"timed out after {timeout or self.timeout:.0f} s (log {err})")
        if m.returncode != expect:
            raise StepFailure(
                f"exit {m.returncode}, expected {expect}: {log_tail(err)} (log {err})"
            )
        return m

    def baseline(self, label: str) -> Measurement:
        argv = [
            sys.executable,
            str(BENCH / "paramiko_floor.py"),
            "--key",
            str(self.fleet.client_key),
            "--known-hosts",
            str(self.fleet.known_hosts),
            "--forks",
            str(FORKS),
            *(h.address for h in self.fleet.hosts),
        ]
        return self._checked(BASELINE, argv, 0, f"baseline-{label}")

    def plan(self, label: str) -> Measurement:
        argv = [str(REMEDIATE), "plan", "--forks", str(FORKS), "--detailed-exitcode"]
        return self._checked(PLAN, argv, 2, f"plan-{label}")

    def apply_audit_rollback(self, label: str) -> tuple[Measurement, Measurement, Measurement]:
        drift(self.fleet)  # every round applies the same changes to the same files
        applied = self._checked(
            APPLY, [str(REMEDIATE), "apply", "--yes", "--forks", str(FORKS)], 0, f"apply-{label}"
        )
        self.verify_applied()
        audited = self._checked(
            AUDIT, [str(REMEDIATE), "audit", "--forks", str(FORKS)], 0, f"audit-{label}"
        )
        rolled_back = self._checked(
            ROLLBACK,
            [str(REMEDIATE), "rollback", "--last", "--yes", "--forks", str(FORKS)],
            0,
            f"rollback-{label}",
        )
        self.verify_rolled_back()
        drift(self.fleet)
        return applied, audited, rolled_back

    def peer(self, name: str, label: str, round_index: int) -> Measurement:
        tool = self.peer_tools[name]
        if name == "ansible":
            run = peers.ansible_run(tool, self.fleet, self.work, round_index)
        else:
            run = peers.pyinfra_run(tool, self.fleet, self.work)
        out, err = self.logs / f"{name}-{label}.out", self.logs / f"{name}-{label}.err"
        try:
            m = measure(
                run.argv, env=run.env, cwd=run.cwd, timeout=PEER_TIMEOUT, stdout=out, stderr=err
            )
        finally:
            run.cleanup()
        if m.timed_out:
            raise StepFailure(f"timed out after {PEER_TIMEOUT:.0f} s (log {out})")
        output = out.read_text(errors="replace") + err.read_text(
            errors="replace"
        )  # pyinfra logs to stderr
        problem = run.check(output, m.returncode)
        if problem:
            raise StepFailure(f"{problem} (log {out})")
        return m

    # -- checks that the work was really done ---------------------------------------------------
    def verify_plan(self) -> None:
        """Once, untimed: the JSON plan finds every managed file drifted on every host."""
        done = subprocess.run(
            [str(REMEDIATE), "plan", "--format", "json", "--forks", str(FORKS)],
            check=False,
            env=self.env,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            stdin=subprocess.DEVNULL,
        )
        try:
            hosts = json.loads(done.stdout)["hosts"]
        except (ValueError, KeyError):
            raise StepFailure(
                f"plan --format json gave no plan (exit {done.returncode}): "
                f"{done.stderr.strip()[-300:]}"
            ) from None
        changed = [
            h
            for h in hosts
            if sum(1 for f in h.get("files", []) if f.get("changed")) == MANAGED_FILES
        ]
        if len(changed) != self.hosts:
            raise StepFailure(
                f"the plan found all {MANAGED_FILES} files drifted on {len(changed)} "
                f"of {self.hosts} hosts"
            )

    def verify_applied(self) -> None:
        for host in self.fleet.hosts:
            redis_conf = host.path("/etc/redis/redis.conf").read_bytes()
            dropin = host.path(DROPIN)
            if (
                b"\ntimeout 0\n" not in redis_conf
                or b"\ntcp-keepalive 60\n" not in redis_conf
                or not dropin.exists()
                or b"LimitNOFILE=65536" not in dropin.read_bytes()
            ):
                raise StepFailure(f"apply exited 0 but {host.name}'s files are not fixed")

    def verify_rolled_back(self) -> None:
        drifted = drifted_redis_conf()
        for host in self.fleet.hosts:
            if (
                host.path("/etc/redis/redis.conf").read_bytes() != drifted
                or host.path(DROPIN).exists()
            ):
                raise StepFailure(f"rollback exited 0 but {host.name}'s files are not as before")

    # -- the rounds -------------------------------------------------------------------------------
    def _fail(self, tools: tuple[str, ...], reason: str) -> None:
        for tool in tools:
            self.series[tool].failure = reason
        progress(f"  {' / '.join(tools)} FAILED: {reason}")

    def _steps(self) -> list[tuple[tuple[str, ...], Callable[[int, str], None]]]:
        def record(tool: str, m: Measurement) -> None:
            self.series[tool].runs.append(m)
            progress(f"  {tool}: {m.seconds:.2f} s, {m.max_rss / 2**20:.0f} MiB")

        def apply_step(_: int, label: str) -> None:
            applied, audited, rolled_back = self.apply_audit_rollback(label)
            record(APPLY, applied)
            record(AUDIT, audited)
            record(ROLLBACK, rolled_back)

        steps: list[tuple[tuple[str, ...], Callable[[int, str], None]]] = [
            ((BASELINE,), lambda _, label: record(BASELINE, self.baseline(label))),
            ((PLAN,), lambda _, label: record(PLAN, self.plan(label))),
            ((APPLY, AUDIT, ROLLBACK), apply_step),
        ]

        def peer_step(name: str, tool: str, i: int, label: str) -> None:
            record(tool, self.peer(name, label, i))

        for name in self.peer_tools:
            tool = ANSIBLE if name == "ansible" else PYINFRA
            steps.append(((tool,), functools.partial(peer_step, name, tool)))
        return steps

    def run(self, runs: int) -> list[Series]:
        progress(f"{self.hosts} hosts: warm-up and checks (untimed)")
        try:
            self.baseline("warmup")
        except StepFailure as exc:
            self._fail((BASELINE,), str(exc))
        try:
            self.verify_plan()
        except StepFailure as exc:
            self._fail((PLAN, AUDIT, APPLY, ROLLBACK), str(exc))
        steps = self._steps()
        for i in range(runs):
            progress(f"{self.hosts} hosts: round {i + 1} of {runs}")
            shift = i % len(steps)
            for tools, step in steps[shift:] + steps[:shift]:
                if any(self.series[t].failure for t in tools):
                    continue
                if rabbitmq_node_running():
                    self.steps_beside_rabbitmq.add(tools[0])
                try:
                    step(i, f"round{i + 1}")
                except StepFailure as exc:
                    self._fail(tools, str(exc))
                    drift(self.fleet)
        if self.steps_beside_rabbitmq:
            self.notes.append(
                f"{self.hosts} hosts: a RabbitMQ node (beam.smp) ran on the machine before some runs of "
                f"{', '.join(sorted(self.steps_beside_rabbitmq))}; the fleet's hosts share the machine's "
                "PID namespace, so remediate's rabbitmq probe then runs rabbitmqctl on every host"
            )
        both = combined(APPLY_ROLLBACK, [self.series[APPLY], self.series[ROLLBACK]])
        return [*self.series.values(), both]


def rabbitmq_node_running() -> bool:
    """Whether any beam.smp runs on the machine (another test's RabbitMQ node, say)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if Path(f"/proc/{name}/comm").read_bytes() == b"beam.smp\n":
                    return True
            except OSError:
                pass
    return False


def sample_load(samples: list[float], stop: threading.Event) -> None:
    """The 1-minute load average every LOAD_EVERY seconds until ``stop`` is set."""
    while not stop.wait(LOAD_EVERY):
        samples.append(os.getloadavg()[0])


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- what the run is about: machine, versions, start-up, lint ---------------------------------------
def tool_versions(peer_tools: dict[str, peers.PeerTool]) -> list[tuple[str, str]]:
    import paramiko

    versions = [
        ("remediate", peers.version_of([str(REMEDIATE), "--version"])),
        ("Python (controller)", platform.python_version()),
        ("paramiko (baseline, remediate)", paramiko.__version__),
    ]
    versions += [(tool.name, tool.version) for tool in peer_tools.values()]
    versions += [
        ("OpenSSH", peers.version_of(["ssh", "-V"])),
        ("redis-server", peers.version_of(["redis-server", "--version"])),
    ]
    return versions


def help_startup(env: dict[str, str], work: Path) -> list[float]:
    runs = []
    for _ in range(HELP_RUNS):
        m = measure([str(REMEDIATE), "--help"], env=env, cwd=work, timeout=30)
        if m.returncode != 0:
            progress(f"remediate --help exited {m.returncode}")
            return []
        runs.append(m.seconds)
    return runs


def lint_bench_output() -> str | None:
    script = BENCH / "lint_bench.py"
    if not script.exists():
        return None
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "bench/lint_bench.py timed out after 900 s"
    if done.returncode != 0:
        return f"bench/lint_bench.py exited {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fleet_bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--hosts",
        default="50,200",
        help="comma-separated fleet sizes, 1 to 1000 each (default 50,200)",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="timed rounds per fleet size (default 5)"
    )
    parser.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"also run ansible-core and pyinfra (fleets of up to {PEER_MAX_HOSTS} hosts)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=BENCH / "RESULTS.md",
        help="where to write the results (default bench/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(n) for n in args.hosts.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--hosts {args.hosts!r}: expected sizes like 50,200")
    if not args.sizes or not all(1 <= n <= 1000 for n in args.sizes) or args.runs < 1:
        parser.error("--hosts takes sizes from 1 to 1000 and --runs at least 1")
    return args


def run_sizes(
    args: argparse.Namespace,
    work: Path,
    peer_tools: dict[str, peers.PeerTool],
    series: list[Series],
    notes: list[str],
) -> None:
    """Every fleet size in turn; each fleet is torn down before the next starts."""
    for size in args.sizes:
        progress(f"starting {size} hosts with redis-server on 127.0.{SUBNET}.0/24")
        try:
            with Fleet(size, redis=True, subnet=SUBNET) as fleet:  # torn down even on errors
                size_peers = peer_tools if size <= PEER_MAX_HOSTS else {}
                series += FleetBench(fleet, work, size_peers, notes).run(args.runs)
        except FleetError as exc:
            notes.append(f"{size} hosts not measured: the fleet did not start: {exc}")
            progress(notes[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        progress(
            "fleet_bench.py needs root: the SSH test fleet uses mount namespaces (run it with sudo)"
        )
        return 2
    if not REMEDIATE.exists():
        progress(f"no {REMEDIATE}: run this with the project's .venv/bin/python")
        return 2
    work = Path(tempfile.mkdtemp(prefix="remediate-fleet-bench-", dir="/var/tmp"))
    load_before = os.getloadavg()[0]
    load_samples: list[float] = []
    stop_sampling = threading.Event()
    sampler = threading.Thread(
        target=sample_load, args=(load_samples, stop_sampling), daemon=True, name="load"
    )
    sampler.start()
    notes: list[str] = []
    peer_tools = (
        peers.install_all(work / "peer-install.log", notes, progress)
        if args.peers and any(n <= PEER_MAX_HOSTS for n in args.sizes)
        else {}
    )
    progress(f"remediate --help, {HELP_RUNS} times")
    help_runs = help_startup({**os.environ, "NO_COLOR": "1"}, work)
    progress(
        "bench/lint_bench.py" if (BENCH / "lint_bench.py").exists() else "no bench/lint_bench.py"
    )
    lint_output = lint_bench_output()
    series: list[Series] = []
    try:
        run_sizes(args, work, peer_tools, series, notes)
    except KeyboardInterrupt:
        progress(f"interrupted: the fleet is torn down; nothing written; logs kept in {work}")
        return 130
    stop_sampling.set()
    failed = [s for s in series if s.failure]
    if failed or notes:  # a failure, or a peer that could not be installed
        notes.append(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    during = (
        f"; sampled every {LOAD_EVERY:.0f} s during the run: min {min(load_samples):.1f}, "
        f"median {statistics.median(load_samples):.1f}, max {max(load_samples):.1f}"
        if load_samples
        else ""
    )
    notes.append(
        f"1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        f"{during} (on {os.cpu_count()} cores; the fleet's own sshd and redis-server count in it; "
        "other work on the machine adds noise; the rounds interleave the tools to share it)"
    )
    help_median = statistics.median(help_runs) if help_runs else None
    targets = evaluate_targets(series, help_median)
    context = RunContext(
        date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        command=shlex.join(
            ["sudo", ".venv/bin/python", "bench/fleet_bench.py", *(argv or sys.argv[1:])]
        ),
        machine=machine_description(),
        versions=tool_versions(peer_tools),
        runs=args.runs,
        notes=notes,
    )
    args.results.write_text(
        results_markdown(
            context,
            series,
            targets,
            help_runs,
            lint_output,
            lambda: how_each_tool_ran(FORKS, list(peer_tools), peers.PEERS_HOME),
        )
    )
    print(results_table(series))
    print()
    print(targets_table(targets))
    print()
    if help_median is not None:
        print(f"remediate --help: median {help_median:.3f} s of {len(help_runs)}")
    for note in notes:
        print(f"note: {note}")
    print(f"written to {args.results}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
