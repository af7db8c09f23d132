"""Build hook: the repository's own playbook, templates, example inventory and example host
files are the one source of the defaults shipped inside the package (remediate/defaults/ in a
built wheel); the source tree keeps them at the top level, where the README and tests use them.
Everything else is declared in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("playbooks", "templates", "inventory", "examples")


class BuildWithDefaults(build_py):
    """build_py that also copies SHIPPED into remediate/defaults/ of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout (remediate.playbook.shipped)
        target = Path(self.build_lib) / "remediate" / "defaults"
        for name in SHIPPED:
            shutil.copytree(
                ROOT / name,
                target / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"),
            )


setup(cmdclass={"build_py": BuildWithDefaults})
