"""Import cost per top-level package of one remediate command, from ``python -X importtime``.

    .venv/bin/python bench/import_costs.py -- plan -l example     # in the repository root
    .venv/bin/python bench/import_costs.py --runs 5 -- --help

Runs the command ``--runs`` times (the console script, as a user runs it), sums each
package's own import time (``self`` µs, so nested imports count once, under their own
package) and prints the median per package as a Markdown table, largest first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("remediate")


def self_times(stderr: str) -> dict[str, int]:
    """Per top-level package, the sum of its modules' own import time (µs)."""
    totals: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line[len("import time:") :].split("|", 2)
        totals[name.strip().split(".")[0]] += max(int(own), 0)
    return dict(totals)


def measure(args: list[str], runs: int) -> dict[str, float]:
    samples: dict[str, list[int]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", str(SCRIPT), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        for name, own in self_times(done.stderr).items():
            samples[name].append(own)
    return {
        name: statistics.median(values + [0] * (runs - len(values)))
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    args = (
        [a for a in options.command if a != "--"]
        if options.command[:1] == ["--"]
        else options.command
    )
    medians = measure(args, options.runs)
    total = sum(medians.values())
    print(
        f"`remediate {' '.join(args)}`: {len(medians)} top-level packages, "
        f"{total / 1000:.0f} ms of imports (median of {options.runs} runs)\n"
    )
    print("| package | own import time, ms |")
    print("| --- | ---: |")
    for name, own in sorted(medians.items(), key=lambda item: -item[1])[: options.top]:
        print(f"| {name} | {own / 1000:.1f} |")


if __name__ == "__main__":
    main()
