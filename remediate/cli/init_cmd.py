"""``remediate init [DIR]``: an editable copy of the shipped playbook, templates and example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CONFIG_STUB = """\
# remediate.toml: settings remediate reads from the directory it runs in.
# (In a Python project the same keys can live under [tool.remediate] in pyproject.toml.)

[lint]
# Rules to check (IDs or prefixes, e.g. "RDS", "CEL004"); default: all.
# select = ["RDS", "RMQ", "CEL"]
# Rules never to report.
# ignore = ["CEL004"]
"""


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the copy (created if missing).")
    ] = Path("."),
) -> None:
    """Write an editable copy of the shipped inventory example, playbooks/site.yml, templates/
    and remediate.toml into DIR; refuses to overwrite anything (nothing is written then)."""
    import shutil

    from remediate.errors import RemediateError
    from remediate.playbook.shipped import SHIPPED, shipped_root

    root = shipped_root()
    sources = [(root / name, directory / name) for name in SHIPPED]
    present = [str(dest) for _, dest in sources if dest.exists() or dest.is_symlink()]
    config = directory / "remediate.toml"
    if config.exists():
        present.append(str(config))
    if present:
        raise RemediateError(
            f"refusing to overwrite {', '.join(present)} (nothing written; "
            "move them away or choose another directory)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for source, dest in sources:
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    config.write_text(CONFIG_STUB)
    for _, dest in sources:
        typer.echo(f"wrote {dest}/")
    typer.echo(f"wrote {config}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    typer.echo(
        f"next: {where}remediate plan -l example   "
        "(the host `example` is this machine, its files under examples/host/)"
    )
