"""Micro-benchmark of the lossless formats: parse + merge + dump, median of many runs.

    python bench/formats_bench.py

Rows: the full Debian 12 redis.conf (2,276 lines) with the seed fix edited in place,
the same with one setting that must be appended, and 1,000 small realistic files
spread over every kind whose module imports (kinds that do not import yet, or that
refuse the sample, are listed as skipped).  Prints a table; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remediate.errors import RemediateError
from remediate.formats import KINDS, merge, parse

DEBIAN_REDIS = ROOT / "tests" / "fixtures" / "redis" / "debian-redis.conf"

#: kind -> (path, a small live file, the desired template the seed fix renders)
SMALL_FILES: dict[str, tuple[str, str, str]] = {
    "redis": (
        "/etc/redis/redis.conf",
        (
            "bind 127.0.0.1 -::1\nport 6379\ntimeout 300\ntcp-keepalive 0\nmaxmemory 2gb\n"
            "maxmemory-policy noeviction\nsave 900 1\nsave 300 10\nappendonly yes\n"
        ),
        "timeout 0\ntcp-keepalive 60\n",
    ),
    "rabbitmq": (
        "/etc/rabbitmq/rabbitmq.conf",
        (
            "listeners.tcp.default = 5672\nheartbeat = 0 # disabled\nconsumer_timeout = 1800000\n"
            "default_user = celery\ndefault_pass = 'x9#Lq!2w'\nlog.file.level = info\n"
        ),
        "heartbeat = 60\n",
    ),
    "celery": (
        "/srv/app/celeryconfig.py",
        (
            'broker_url = "redis://127.0.0.1:6379/0"\nbroker_connection_retry = False\n'
            "broker_connection_max_retries = 10\ntask_acks_late = True\n"
            "broker_transport_options = {'visibility_timeout': 3600}\n"
        ),
        "broker_connection_retry = True\nbroker_connection_max_retries = 100\n",
    ),
    "limits": (
        "/etc/security/limits.d/rabbitmq.conf",
        (
            "# raise the open file limit\n*        soft    nofile    1024\n"
            "*        hard    nofile    4096\nrabbitmq -       nofile    8192\n"
        ),
        "rabbitmq - nofile 65536\n",
    ),
    "systemd": (
        "/etc/systemd/system/rabbitmq-server.service.d/limits.conf",
        "[Service]\nLimitNOFILE=32768\n",
        "[Service]\nLimitNOFILE=65536\n",
    ),
    "shell": (
        "/etc/default/rabbitmq-server",
        (
            "# This file is sourced by /bin/sh from /etc/init.d/rabbitmq-server.\n"
            "ulimit -n 1024\nNODENAME=rabbit@mq1\n"
        ),
        "ulimit -n 65536\n",
    ),
}


def median_ms(work: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def round_trip(kind: str, path: str, live: bytes, desired: bytes) -> bytes:
    new, _ = merge(parse(kind, live, path), parse(kind, desired, path + ".j2"))
    return new.dump()


def usable_kinds() -> tuple[list[str], list[str]]:
    usable, skipped = [], []
    for kind in KINDS:
        path, live, desired = SMALL_FILES[kind]
        try:
            round_trip(kind, path, live.encode(), desired.encode())
        except (ImportError, RemediateError) as error:  # not written yet, or refuses the sample
            skipped.append(f"{kind} ({type(error).__name__}: {error})")
            continue
        usable.append(kind)
    return usable, skipped


def main() -> None:
    rows: list[tuple[str, int, float, str]] = []
    debian = DEBIAN_REDIS.read_bytes()
    seed = b"timeout 0\ntcp-keepalive 60\n"
    runs = 200
    ms = median_ms(lambda: round_trip("redis", "/etc/redis/redis.conf", debian, seed), runs)
    rows.append(("Debian redis.conf, seed fix in place", runs, ms, "target well under 5 ms"))
    ms = median_ms(lambda: parse("redis", debian, "redis.conf"), runs)
    rows.append(("Debian redis.conf, parse only", runs, ms, ""))
    appended = seed + b"maxmemory-policy noeviction\n"
    runs_append = 30
    ms = median_ms(
        lambda: round_trip("redis", "/etc/redis/redis.conf", debian, appended), runs_append
    )
    rows.append(("Debian redis.conf, seed fix + 1 appended", runs_append, ms, ""))

    kinds, skipped = usable_kinds()
    for kind in kinds:
        path, live, desired = SMALL_FILES[kind]
        one = partial(round_trip, kind, path, live.encode(), desired.encode())
        rows.append((f"one small {kind} file", 100, median_ms(one, 100), ""))
    if kinds:
        batch = [(kind, *SMALL_FILES[kind]) for kind in kinds]
        samples = [(k, p, live.encode(), desired.encode()) for k, p, live, desired in batch]
        files = [samples[i % len(samples)] for i in range(1000)]

        def thousand() -> None:
            for kind, path, live, desired in files:
                round_trip(kind, path, live, desired)

        runs_small = 7
        ms = median_ms(thousand, runs_small)
        per_file_us = ms  # total ms over 1,000 files is the per-file time in µs
        rows.append(
            (
                f"1,000 small files ({', '.join(kinds)})",
                runs_small,
                ms,
                f"{per_file_us:.0f} µs per file",
            )
        )

    width = max(len(row[0]) for row in rows)
    print(f"{'case':<{width}}  {'runs':>5}  {'median ms':>10}  note")
    for name, count, ms, note in rows:
        print(f"{name:<{width}}  {count:>5}  {ms:>10.3f}  {note}")
    for kind in skipped:
        print(f"skipped: {kind}")


if __name__ == "__main__":
    main()
