"""``lint --format github``: GitHub Actions workflow commands, one annotation per finding
(``::warning file=config/redis.conf,line=3,col=1,title=RDS002::...``), paths relative to the
repository's top level so they land on the pull request's diff; then the summary line."""

from __future__ import annotations

from pathlib import Path

from remediate.lint.run import LintRun

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(run: LintRun, summary: str, root_path: dict[str, str]) -> str:
    """The workflow commands; ``root_path`` maps a reported path to its path from the top
    level (a path missing there is used as it is)."""
    out = []
    for item in run.findings:
        f = item.finding
        if f.suppressed:
            continue
        props = [f"file={escape_property(root_path.get(f.path, f.path))}"]
        if f.line:
            props += [f"line={f.line}", f"col={f.column or 1}"]
        props.append(f"title={escape_property(f'{f.rule} {f.severity}')}")
        message = f.message + (f"\nfix: {f.fix}" if f.fix else "")
        out.append(
            f"::{LEVEL.get(f.severity, 'warning')} {','.join(props)}::{escape_data(message)}"
        )
    for error in run.errors:
        where = escape_property(root_path.get(error.path, error.path))
        out.append(f"::error file={where},title=unreadable::{escape_data(error.reason)}")
    out.append(summary)
    return "".join(line + "\n" for line in out)


def from_root(paths: list[str], cwd: Path, root: Path | None) -> dict[str, str]:
    """Each reported path (relative to ``cwd``, or absolute) as a POSIX path from ``root``."""
    out = {}
    for path in paths:
        absolute = Path(path) if Path(path).is_absolute() else cwd / path
        try:
            out[path] = absolute.resolve().relative_to(root).as_posix() if root else path
        except ValueError:
            out[path] = path
    return out
