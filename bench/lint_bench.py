"""Benchmark of ``remediate lint`` over 1,000 realistic config files (target: under 3 s).

    python bench/lint_bench.py [--files 1000] [--repeat 3]

Writes a fleet of host trees into a temporary directory (each host: the full Debian 12
redis.conf with a few values changed, rabbitmq.conf, /etc/default/rabbitmq-server, a
limits.d file, a systemd drop-in and the app's celeryconfig.py, in varied styles), then
times ``remediate lint DIR`` end to end (the console script in a subprocess: start-up,
imports, walk, parse, rules, report) and ``lint_paths`` in-process. Prints the figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEBIAN_REDIS = ROOT / "tests" / "fixtures" / "redis" / "debian-redis.conf"


def redis_conf(rng: random.Random) -> bytes:
    text = DEBIAN_REDIS.read_text()
    text = text.replace("\ntimeout 0\n", f"\ntimeout {rng.choice([0, 0, 300])}\n")
    text = text.replace("\ntcp-keepalive 300\n", f"\ntcp-keepalive {rng.choice([60, 300, 0])}\n")
    return text.encode()


def rabbitmq_conf(rng: random.Random) -> bytes:
    return (
        f"listeners.tcp.default = 5672\nheartbeat = {rng.choice([60, 0, 580, 30])}\n"
        f"consumer_timeout = {rng.choice([1800000, 3600000])}\ndefault_user = celery\n"
        "default_pass = 'x9#Lq!2w'\nlog.file.level = info\n"
        "vm_memory_high_watermark.relative = 0.6\n"
    ).encode()


def rabbitmq_default(rng: random.Random) -> bytes:
    ulimit = f"ulimit -n {rng.choice([65536, 32768])}\n" if rng.random() < 0.5 else ""
    return (
        "# Defaults for rabbitmq-server, sourced by the SysV init script\n"
        f"{ulimit}RABBITMQ_NODENAME=rabbit@localhost\n"
    ).encode()


def limits_d(rng: random.Random) -> bytes:
    return (
        f"# raise the open file limit\n*        soft    nofile    {rng.choice([1024, 4096])}\n"
        "*        hard    nofile    65536\nrabbitmq -       nofile    65536\n"
    ).encode()


def systemd_dropin(rng: random.Random) -> bytes:
    return f"[Service]\nLimitNOFILE={rng.choice([65536, 32768, '65536:524288'])}\n".encode()


def celeryconfig(rng: random.Random) -> bytes:
    style = rng.choice(["new", "old", "django"])
    broker = rng.choice(["redis://redis-01:6379/0", "amqp://celery:pw@rabbit-01:5672//"])
    if style == "old":
        return (
            f'BROKER_URL = "{broker}"\nBROKER_HEARTBEAT = {rng.choice([0, 10, 60])}\n'
            "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n"
            "BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 3600}\n"
        ).encode()
    if style == "django":
        return (
            "import os\n\nDEBUG = False\nTIME_ZONE = 'UTC'\n"
            f"CELERY_BROKER_URL = os.environ.get('BROKER', '{broker}')\n"
            "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True\n"
            "CELERY_TASK_ACKS_LATE = True\n"
        ).encode()
    return (
        '"""Celery settings."""\nimport socket\n\n'
        f'broker_url = "{broker}"\nbroker_connection_retry = {rng.choice([True, False])}\n'
        f"broker_connection_max_retries = {rng.choice([None, 10, 100])}\n"
        "broker_transport_options = {\n    'socket_keepalive': True,\n"
        "    'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10,"
        " socket.TCP_KEEPCNT: 3},\n    'visibility_timeout': 43200,\n}\n"
        "task_acks_late = True\nworker_prefetch_multiplier = 1\n"
    ).encode()


HOST_FILES: list[tuple[str, Callable[[random.Random], bytes]]] = [
    ("etc/redis/redis.conf", redis_conf),
    ("etc/rabbitmq/rabbitmq.conf", rabbitmq_conf),
    ("etc/default/rabbitmq-server", rabbitmq_default),
    ("etc/security/limits.d/rabbitmq.conf", limits_d),
    ("etc/systemd/system/rabbitmq-server.service.d/limits.conf", systemd_dropin),
    ("srv/app/celeryconfig.py", celeryconfig),
]


def write_fleet(root: Path, count: int, seed: int = 7) -> dict[str, int]:
    """``count`` files over as many hosts as it takes; returns files per kind."""
    rng = random.Random(seed)
    written: dict[str, int] = {}
    for index in range(count):
        host, (relative, make) = (
            divmod(index, len(HOST_FILES))[0],
            HOST_FILES[index % len(HOST_FILES)],
        )
        path = root / "hosts" / f"host{host:03d}" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make(rng))
        written[make.__name__] = written.get(make.__name__, 0) + 1
    return written


def timed(action: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from remediate.lint.run import lint_paths

    exe = Path(sys.executable).with_name("remediate")
    with tempfile.TemporaryDirectory(prefix="lint-bench-") as tmp:
        root = Path(tmp)
        kinds = write_fleet(root, args.files)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(
            f"{args.files} files, {size / 1e6:.1f} MB: "
            + ", ".join(f"{n} {name}" for name, n in sorted(kinds.items()))
        )

        def end_to_end() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(exe), "lint", str(root), "--format", "json"],
                check=False,
                capture_output=True,
                text=True,
                cwd=root,
            )

        cli_times, completed = timed(end_to_end, args.repeat)
        assert isinstance(completed, subprocess.CompletedProcess)
        lib_times, run = timed(lambda: lint_paths([root], cwd=root), args.repeat)
        start_times, _ = timed(
            lambda: subprocess.run([str(exe), "lint", "--help"], check=False, capture_output=True),
            args.repeat,
        )
        findings = len(getattr(run, "findings", ()))
        print(f"findings: {findings}, exit code {completed.returncode}")
        for label, times, files in (
            ("remediate lint DIR (subprocess, end to end)", cli_times, True),
            ("lint_paths() in-process", lib_times, True),
            ("remediate lint --help (start-up only)", start_times, False),
        ):
            rate = f"   ({args.files / min(times):,.0f} files/s)" if files else ""
            print(
                f"  {label:<45} median {statistics.median(times):6.2f} s   "
                f"best {min(times):6.2f} s{rate}"
            )
        print("target: under 3 s end to end")


if __name__ == "__main__":
    main()
