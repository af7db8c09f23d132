"""Import cost per top-level package of one remediate command, from ``python -X importtime``.

    .venv/bin/python bench/import_costs.py -- plan -l example     # in the repository root
    .venv/bin/python bench/import_costs.py --runs 5 -- --help
    .venv/bin/python bench/import_costs.py --tree /tmp/old --tree . -- plan -l example

With ``--tree`` (repeatable) the command runs from that source tree instead of the installed
package (``git archive <commit> remediate | tar -x -C /tmp/old`` makes one), each tree in
turn per round, so a before/after table shares the machine's load.

Runs the command ``--runs`` times (the console script, as a user runs it), sums each
package's own import time (``self`` µs, so nested imports count once, under their own
package) and prints the median per package as a Markdown table, largest first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("remediate")
#: runs remediate from the tree in argv[1] (the editable install's finder set aside)
FROM_TREE = (
    "import sys; root = sys.argv.pop(1); "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
    "sys.path.insert(0, root); sys.argv[0] = 'remediate'; "
    "from remediate.cli.main import run; run()"
)


def self_times(stderr: str) -> dict[str, int]:
    """Per top-level package, the sum of its modules' own import time (µs)."""
    totals: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line[len("import time:") :].split("|", 2)
        totals[name.strip().split(".")[0]] += max(int(own), 0)
    return dict(totals)


def command(tree: str | None, args: list[str]) -> list[str]:
    if tree is None:
        return [sys.executable, "-X", "importtime", str(SCRIPT), *args]
    return [sys.executable, "-X", "importtime", "-c", FROM_TREE, str(Path(tree).resolve()), *args]


def measure(
    trees: list[str | None], args: list[str], runs: int
) -> list[tuple[dict[str, float], float]]:
    """Per tree: the median own import time per package, and the median total."""
    samples: list[dict[str, list[int]]] = [defaultdict(list) for _ in trees]
    totals: list[list[int]] = [[] for _ in trees]
    for _ in range(runs):
        for index, tree in enumerate(trees):  # interleaved: every tree sees the same load
            done = subprocess.run(
                command(tree, args),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            times = self_times(done.stderr)
            totals[index].append(sum(times.values()))
            for name, own in times.items():
                samples[index][name].append(own)
    return [
        (
            {
                name: statistics.median(values + [0] * (runs - len(values)))
                for name, values in per_tree.items()
            },
            statistics.median(total),
        )
        for per_tree, total in zip(samples, totals)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--tree", action="append", help="a source tree holding remediate/")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    args = options.command[1:] if options.command[:1] == ["--"] else options.command
    trees: list[str | None] = list(options.tree or [None])
    load_before = os.getloadavg()[0]
    results = measure(trees, args, options.runs)
    names = [t or "installed" for t in trees]
    load = os.getloadavg()[0]
    print(
        f"`remediate {' '.join(args)}`: own import time per top-level package, ms, "
        f"median of {options.runs} interleaved runs (`-X importtime` self times; a module "
        f"imported lazily inside a function counts under its own package). Made by "
        f"`{shlex.join(['.venv/bin/python', 'bench/import_costs.py', *sys.argv[1:]])}`; "
        f"1-minute load average {load_before:.1f} at the start, {load:.1f} at the end, "
        f"on {os.cpu_count()} cores.\n"
    )
    print("| package | " + " | ".join(names) + " |")
    print("| --- | " + " | ".join("---:" for _ in names) + " |")
    every = set().union(*(r[0] for r in results))
    ranked = sorted(every, key=lambda n: -max(r[0].get(n, 0) for r in results))
    for name in ranked[: options.top]:
        cells = " | ".join(f"{r[0].get(name, 0) / 1000:.1f}" for r in results)
        print(f"| {name} | {cells} |")
    print("| **all imports** | " + " | ".join(f"**{r[1] / 1000:.0f}**" for r in results) + " |")


if __name__ == "__main__":
    main()
