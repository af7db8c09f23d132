"""``remediate lint``: lint local config files (no hosts, no SSH) for CI and pre-commit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from remediate.errors import ParseError, RemediateError, UsageError

Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Files or directories (walked recursively; .git, caches and venvs skipped).",
        show_default=False,
        metavar="PATH",
    ),
]
Kind = Annotated[
    str,
    typer.Option(
        "--kind",
        help="auto (from name and content), or force one of redis, rabbitmq, celery, "
        "limits, systemd, shell, supervisord, python-lock for every file.",
    ),
]
LintFormat = Annotated[
    str,
    typer.Option("--format", help="text, json, sarif, junit or github (Actions annotations)."),
]
Select = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        help="Only these rules: ids or prefixes (CEL004, RDS), comma-separated or repeated. "
        "Default: [lint] select of remediate.toml / [tool.remediate.lint] of pyproject.toml.",
    ),
]
Ignore = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        help="Never these rules (ids or prefixes); added to the config file's ignore.",
    ),
]
FailOn = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 2 when a finding is at or above this severity: info, warning, error.",
    ),
]
Baseline = Annotated[
    Path | None,
    typer.Option(
        "--baseline", help="An earlier `lint --format json` report: show only findings not in it."
    ),
]
CeleryVersion = Annotated[
    str | None,
    typer.Option(
        "--celery-version",
        help="Celery X.Y whose setting names and defaults to judge against "
        "(default: the newest supported).",
    ),
]
RabbitmqVersion = Annotated[
    str | None,
    typer.Option(
        "--rabbitmq-version",
        help="The RabbitMQ X.Y.Z the broker runs: keys it ignores (RMQ009), "
        "consumer timeouts of 4.3+ (RMQ008), Celery/kombu against 4.3+ "
        "(PKG003). Default: unknown, those checks stay silent.",
    ),
]
RedisVersion = Annotated[
    str | None,
    typer.Option(
        "--redis-version",
        help="The Redis X.Y the broker runs, for protected mode (RDS008). Default: 7 or newer.",
    ),
]
PathIdleTimeout = Annotated[
    int | None,
    typer.Option(
        "--path-idle-timeout",
        min=1,
        help="Seconds after which the network path to the broker "
        "drops an idle flow (AWS NLB 350, Azure Cache for Redis "
        "600, Azure LB 240, GCP Cloud NAT 1200): X004.",
    ),
]
PathCountsData = Annotated[
    bool,
    typer.Option(
        "--path-counts-data",
        help="The path has a proxy that counts data only: TCP keepalive "
        "alone does not keep a flow open (X004).",
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to FILE instead of standard output."),
]


def lint(
    ctx: typer.Context,
    paths: Paths,
    kind: Kind = "auto",
    format: LintFormat = "text",
    fail_on: FailOn = "warning",
    baseline: Baseline = None,
    celery_version: CeleryVersion = None,
    rabbitmq_version: RabbitmqVersion = None,
    redis_version: RedisVersion = None,
    path_idle_timeout: PathIdleTimeout = None,
    path_counts_data: PathCountsData = False,
    output: Output = None,
    select: Select = None,
    ignore: Ignore = None,
) -> None:
    """Lint Redis, RabbitMQ, Celery, limits, systemd, /etc/default, supervisord and Python lock
    files for the settings and versions behind lost broker connections. Exit 2 on findings at or above --fail-on, 1 when a path
    cannot be read, 64 on a usage error."""
    from remediate.lint.config import rule_filter
    from remediate.lint.report import FORMATS, render, text_lines
    from remediate.lint.run import KIND_CHOICES, SEVERITIES, LintTargets, all_rules, lint_paths

    _choose("--kind", kind, KIND_CHOICES)
    _choose("--format", format, FORMATS)
    _choose("--fail-on", fail_on, SEVERITIES)
    if celery_version is not None:
        _check_celery_version(celery_version)
    for option, version in (
        ("--rabbitmq-version", rabbitmq_version),
        ("--redis-version", redis_version),
    ):
        if version is not None and not re.fullmatch(r"\d+(\.\d+){0,2}", version):
            raise UsageError(f"{option} {version!r}: expected a version such as 4.3.0")
    rules = rule_filter(select, ignore, Path.cwd(), [*all_rules(), "PARSE"])
    earlier = _read_baseline(baseline) if baseline else None
    targets = LintTargets(
        celery_version, rabbitmq_version, redis_version, path_idle_timeout, path_counts_data
    )
    run = lint_paths(paths, kind=kind, baseline=earlier, targets=targets, rules=rules)
    code = run.exit_code(fail_on)
    if output is not None:
        from remediate.cli.output import write_atomic

        try:
            write_atomic(output, render(run, format, fail_on))
        except OSError as exc:
            raise RemediateError(
                f"cannot write the report: {exc.strerror or exc}", path=str(output)
            ) from None
    elif format == "text":
        from remediate.cli.output import print_lines

        print_lines(text_lines(run, fail_on), ctx.obj.color if ctx.obj else False)
    else:
        typer.echo(render(run, format, fail_on), nl=False)
    for error in run.errors:
        typer.echo(f"remediate: error: {error.path}: {error.reason}", err=True)
    raise typer.Exit(code)


def _choose(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: expected one of {', '.join(allowed)}")


def _check_celery_version(version: str) -> None:
    from remediate.formats.celery_settings import VERSIONS, names

    try:
        names(version)
    except ValueError:
        raise UsageError(
            f"--celery-version {version!r}: expected X.Y, one of {', '.join(VERSIONS)} (or newer)"
        ) from None


def _read_baseline(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ParseError(
            f"cannot read the baseline: {exc.strerror or exc}", path=str(path)
        ) from None
    except ValueError as exc:
        raise ParseError(f"the baseline is not JSON ({exc})", path=str(path)) from None
    if not isinstance(data, dict) or data.get("schema") != 1 or data.get("kind") != "lint":
        raise ParseError(
            "the baseline is not a `remediate lint --format json` report", path=str(path)
        )
    return data
