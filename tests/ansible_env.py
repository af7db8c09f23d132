"""A real ansible-core for oracle tests: ``ansible-vault`` and ``ansible-inventory``.

One virtualenv per pinned version, built from Debian's ``/usr/bin/python3`` under ``/opt`` once,
under a file lock, and reused while its requirements are unchanged. A failed build raises, so a
test that needs ansible-core fails instead of skipping. ansible-core is GPL: only the tests run
it, as a separate program; remediate never imports it.

    bin_dir = ansible_bin()              # /opt/remediate-test-ansible/<hash>/bin
    subprocess.run([bin_dir / "ansible-vault", "encrypt", ...])
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from pathlib import Path

ROOT = Path(os.environ.get("REMEDIATE_ANSIBLE_ENVS", "/opt/remediate-test-ansible"))
SYSTEM_PYTHON = "/usr/bin/python3"
#: the newest ansible-core that runs on Debian's Python 3.11 (2.20 needs 3.12)
REQUIREMENTS: tuple[str, ...] = ("ansible-core==2.19.14",)


class AnsibleEnvError(RuntimeError):
    """The ansible-core virtualenv could not be built: the tests that need it must fail."""


def ansible_bin(requirements: tuple[str, ...] = REQUIREMENTS) -> Path:
    """The bin/ directory of a virtualenv holding exactly ``requirements`` (built on first use)."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    venv = ROOT / key
    python = venv / "bin" / "python"
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists() and python.exists():
            return venv / "bin"
        if not Path(SYSTEM_PYTHON).exists():
            raise AnsibleEnvError(f"{SYSTEM_PYTHON} is missing (Debian's python3 builds the venv)")
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
                raise AnsibleEnvError(f"{' '.join(step[:4])}...: {done.stderr.strip()[-2000:]}")
        (venv / "requirements.txt").write_text("\n".join(requirements) + "\n")
        (venv / ".complete").write_text("")
        return venv / "bin"


def ansible_env(**extra: str) -> dict[str, str]:
    """An environment for ansible-core's programs: no ANSIBLE_* of the caller (run them in a
    directory without ansible.cfg), no colour, warnings that do not matter here off."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_HOME=str(ROOT / "home"),
        LC_ALL="C.UTF-8",
    )
    env.update(extra)
    return env
