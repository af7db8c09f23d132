"""Real Celery installs for the tests, shared by every test (and every test run) that needs one.

A virtualenv per requirement set, built from Debian's ``/usr/bin/python3`` under ``/opt`` so the
fleet's hosts (each with a private ``/root`` and ``/tmp``) can run it too (TESTING.md). Built once
under a file lock and reused while its requirements are unchanged; a failed build raises, so a
test that needs Celery fails instead of skipping.

    python = celery_python(CURRENT)      # /opt/remediate-test-celery/<hash>/bin/python
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from pathlib import Path

ROOT = Path(os.environ.get("REMEDIATE_CELERY_ENVS", "/opt/remediate-test-celery"))
SYSTEM_PYTHON = "/usr/bin/python3"

#: the current stack: Celery 5.7 with kombu 5.7 and redis-py from its [redis] extra
CURRENT: tuple[str, ...] = ("celery[redis]==5.7.0", "kombu==5.7.0")
#: an old stack DOMAIN.md calls broken on a Redis broker (kombu < 5.4.0: consumers lost after a
#: reconnect, PKG004 and PKG001)
OLD: tuple[str, ...] = ("celery==5.3.6", "kombu==5.3.7", "redis==4.6.0")


class CeleryEnvError(RuntimeError):
    """A Celery virtualenv could not be built: the tests that need it must fail."""


def celery_python(requirements: tuple[str, ...] = CURRENT) -> Path:
    """The interpreter of a virtualenv holding exactly ``requirements`` (built on first use)."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    venv = ROOT / key
    python = venv / "bin" / "python"
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists() and python.exists():
            return python
        if not Path(SYSTEM_PYTHON).exists():
            raise CeleryEnvError(f"{SYSTEM_PYTHON} is missing (Debian's python3 builds the venvs)")
        subprocess.run(["rm", "-rf", str(venv)], check=True)
        steps = (
            [SYSTEM_PYTHON, "-m", "venv", str(venv)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *requirements,
            ],
        )
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise CeleryEnvError(f"{' '.join(step[:4])}...: {done.stderr.strip()[-2000:]}")
        (venv / "requirements.txt").write_text("\n".join(requirements) + "\n")
        (venv / ".complete").write_text("")
        return python
