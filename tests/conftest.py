"""Shared fixtures: the real SSH fleet (session-scoped) and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet import Fleet
from tests.paths import CORPUS  # noqa: F401  (the lint tests import it from here)

ROOT = Path(__file__).resolve().parents[1]

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _subnet(base: int) -> int:
    """A distinct 127.0.S.0/24 per xdist worker and per fleet fixture."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + 10 * int(worker.removeprefix("gw") or 0)


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Four hosts with a live redis-server each; tests must leave them as they found them."""
    with Fleet(4, redis=True, subnet=_subnet(1)) as running:
        yield running


@pytest.fixture
def small_fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """Three throwaway hosts (no redis) for tests that break hosts on purpose."""
    with Fleet(3, subnet=_subnet(2)) as running:
        yield running


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``remediate`` console script as a user would."""
    exe = Path(sys.executable).with_name("remediate")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=cwd or ROOT,
        input=input,
        timeout=timeout,
    )
