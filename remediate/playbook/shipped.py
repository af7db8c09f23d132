"""The playbook, templates, example inventory and example host files shipped with remediate.

A built wheel holds them in ``remediate/defaults/`` (setup.py copies the repository's
top-level ``playbooks/``, ``templates/``, ``inventory/`` and ``examples/`` there); a source
checkout or editable install reads the top-level directories themselves. The fleet commands
use the shipped playbook and templates when ``./playbooks/site.yml`` and ``./templates`` do
not exist and no ``-p``/``--templates`` was given; ``remediate init`` writes an editable copy.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
SHIPPED = ("playbooks", "templates", "inventory", "examples")


def shipped_root() -> Path:
    """The directory holding the shipped ``playbooks/``, ``templates/``, ``inventory/``."""
    packaged = _PACKAGE / "defaults"
    if (packaged / "playbooks" / "site.yml").is_file():
        return packaged
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "playbooks" / "site.yml").is_file():
        return checkout
    raise FileNotFoundError(f"no shipped playbook under {packaged} (a broken install?)")


def shipped_playbook() -> Path:
    return shipped_root() / "playbooks" / "site.yml"


def shipped_templates() -> Path:
    return shipped_root() / "templates"
