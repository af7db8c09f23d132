"""The ``remediate`` typer app and the one boundary that maps errors to exit codes."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from remediate import __version__

app = typer.Typer(
    name="remediate",
    help="Find and fix the config behind lost Celery broker connections across a fleet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=(
        "\b\nExamples:\n"
        "  remediate plan -i inventory/ -l redis            # what would change (nothing is written)\n"
        "  remediate plan -e redis_tcp_keepalive=30 --list-hosts\n"
        "  remediate apply -u deploy -b -K --yes            # log in as deploy, sudo with a password\n"
        "  remediate apply --check                          # as plan: change nothing\n"
        "  remediate rollback RUN_ID --yes\n"
        "  remediate lint .                                 # local files, for CI\n"
        "\b\nansible.cfg is read as Ansible reads it (ANSIBLE_CONFIG, ./ansible.cfg, "
        "~/.ansible.cfg, /etc/ansible/ansible.cfg); remediate's own settings live in its "
        "[remediate] section."
    ),
)

#: per-command examples shown under each command's --help
EXAMPLES = {
    "plan": (
        "\b\nExamples:\n"
        "  remediate plan                                   # ansible.cfg's inventory, site.yml\n"
        "  remediate plan -i prod/ -l 'redis:&eu' --detailed-exitcode\n"
        "  remediate plan -e redis_tcp_keepalive=30 -e @overrides.yml\n"
        "  remediate plan --list-hosts                      # the hosts each play selects\n"
        "  remediate plan --format json --out plan.json     # for apply --plan"
    ),
    "apply": (
        "\b\nExamples:\n"
        "  remediate apply --yes                            # plays' serial: batches apply\n"
        "  remediate apply -u deploy -b -K --yes            # sudo, password asked once\n"
        "  remediate apply --plan plan.json --yes           # exactly a reviewed plan\n"
        "  remediate apply -C                               # check: show the plan, change nothing\n"
        "  remediate apply --serial 25% --max-fail-percent 10 --yes"
    ),
    "facts": "\b\nExamples:\n  remediate facts -l redis --format json",
    "audit": "\b\nExamples:\n  remediate audit --report audit.json --metrics /var/lib/node_exporter/remediate.prom",
    "rollback": "\b\nExamples:\n  remediate rollback --dry-run\n  remediate rollback RUN_ID -l host3 --yes",
    "runs": "\b\nExamples:\n  remediate runs -l redis",
}

#: Global options that are also accepted after the command (``remediate plan --no-color``):
#: ``run`` moves them in front of it. The value says whether the option takes a value.
GLOBAL_OPTIONS = {"--debug": False, "--no-color": False, "--log": True}


@dataclass(frozen=True)
class Settings:
    """Global options, passed to every command through ``ctx.obj``."""

    debug: bool = False
    color: bool = True  # colour allowed; on a terminal, or anywhere with FORCE_COLOR


def _version(value: bool) -> None:
    if value:
        import platform
        from importlib.metadata import PackageNotFoundError, version

        try:
            paramiko = version("paramiko")
        except PackageNotFoundError:
            paramiko = "not installed"
        typer.echo(
            f"remediate {__version__} (Python {platform.python_version()}, paramiko {paramiko})"
        )
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version (with Python's and paramiko's) and exit.",
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Tracebacks, and a debug log of each host's steps on stderr (secrets masked).",
    ),
    no_color: bool = typer.Option(
        False, "--no-color", help="Plain output (also: NO_COLOR set and not empty)."
    ),
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Append the debug log of each host's steps to FILE (for cron)."),
    ] = None,
) -> None:
    """Find and fix the config behind lost Celery broker connections across a fleet.

    Global options may also follow the command: remediate plan --no-color."""
    ctx.obj = Settings(debug=debug, color=color_allowed(no_color, os.environ))
    configure_logging(debug, log)


def color_allowed(no_color: bool, environ: Mapping[str, str]) -> bool:
    """--no-color wins; then FORCE_COLOR (set, not empty: colour even when piped); then
    NO_COLOR (set, not empty: no colour), as no-color.org and force-color.org define them."""
    if no_color:
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return not environ.get("NO_COLOR")


def configure_logging(debug: bool, log_file: Path | None = None) -> None:
    """Set up logging once per process. With ``--debug`` every logger, libraries' too, writes
    to stderr at DEBUG. Without it, only remediate's own warnings do, one line each: paramiko's
    transport thread logs errors and whole tracebacks ("Exception (client): Error reading SSH
    protocol banner", "Socket exception: Bad file descriptor (9)") that the report already
    tells as one line per host. The root handler also keeps Python's last-resort handler
    from printing them. ``log_file`` gets remediate's own debug log (and libraries'
    warnings), timestamped, for cron. Every message is masked (URL passwords, vault values)."""
    root = logging.getLogger()
    if any(isinstance(h, _StderrHandler) for h in root.handlers):
        return
    handler = _StderrHandler(sys.stderr)
    handler.addFilter(_mask_record)
    logging.captureWarnings(True)  # library warnings (py.warnings) go the same way
    if debug:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.DEBUG)
    else:
        handler.setLevel(logging.WARNING)
        handler.addFilter(lambda record: record.name.split(".")[0] == "remediate")
        handler.setFormatter(_OneLine())
    root.addHandler(handler)
    if log_file is not None:
        try:
            to_file = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            from remediate.errors import UsageError

            raise UsageError(f"--log {log_file}: {exc.strerror or exc}") from None
        to_file.addFilter(_mask_record)
        to_file.addFilter(
            lambda r: r.name.split(".")[0] == "remediate" or r.levelno >= logging.WARNING
        )
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(to_file)
        root.setLevel(logging.DEBUG)
        if not debug:  # the stderr handler stays at warnings; quiet libraries' debug chatter
            logging.getLogger("paramiko").setLevel(logging.WARNING)


def _mask_record(record: logging.LogRecord) -> bool:
    """Mask URL passwords and vault-decrypted values in the message (and drop its args)."""
    from remediate.model.secrets import Masker

    message = record.getMessage()
    masked = Masker()(message)
    if masked != message or record.args:
        record.msg, record.args = masked, None
    return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler ``configure_logging`` installs."""


class _OneLine(logging.Formatter):
    """``remediate: warning: message`` on one line, without a traceback (``--debug`` has it)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"remediate: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with the GLOBAL_OPTIONS found after the command moved in front of it (up to a
    ``--``), so ``remediate plan --no-color`` means ``remediate --no-color plan``."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name]
            if takes_value and "=" not in arg and index + 1 < len(args):
                front += args[index : index + 2]
                index += 2
                continue
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


def _register() -> None:
    from remediate.cli import apply_cmd, audit_cmd, facts_cmd, inventory_cmd, plan_cmd, rollback_cmd

    app.command("plan", epilog=EXAMPLES["plan"])(plan_cmd.plan)
    app.command("apply", epilog=EXAMPLES["apply"])(apply_cmd.apply)
    app.command("rollback", epilog=EXAMPLES["rollback"])(rollback_cmd.rollback)
    app.command("runs", epilog=EXAMPLES["runs"])(rollback_cmd.runs)
    app.command("facts", epilog=EXAMPLES["facts"])(facts_cmd.facts)
    app.command("audit", epilog=EXAMPLES["audit"])(audit_cmd.audit)
    app.add_typer(audit_cmd.report_app, name="report")
    app.command("inventory")(inventory_cmd.inventory)
    app.command("lint")(__import__("remediate.cli.lint_cmd", fromlist=["lint"]).lint)
    app.command("relay")(__import__("remediate.cli.relay_cmd", fromlist=["relay"]).relay)
    app.command("verify")(__import__("remediate.cli.verify_cmd", fromlist=["verify"]).verify)
    app.command("init")(__import__("remediate.cli.init_cmd", fromlist=["init"]).init)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: the one place that turns outcomes into exit codes."""
    from remediate.errors import RemediateError, UsageError
    from remediate.report.exit import ExitCode

    click_usage_error, click_abort = _click_exceptions()

    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _register()
    try:
        code = app(args=args, prog_name="remediate", standalone_mode=False)
    except click_usage_error as exc:
        exc.show()  # type: ignore[attr-defined]
        code = ExitCode.USAGE
    except click_abort:
        typer.echo("aborted", err=True)
        code = ExitCode.ERROR
    except UsageError as exc:
        typer.echo(f"remediate: {exc}", err=True)
        code = ExitCode.USAGE
    except RemediateError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        typer.echo(f"remediate: error: {exc}", err=True)
        code = ExitCode.ERROR
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: say so, briefly, unless --debug
        if debug:
            raise
        typer.echo(
            f"remediate: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True
        )
        code = ExitCode.ERROR
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _click_exceptions() -> tuple[type[Exception], type[BaseException]]:
    """The usage-error and abort classes of the click that typer uses: typer >= 0.20 vendors it
    as typer._click (a separately installed click is then a different package)."""
    try:
        from typer._click.exceptions import UsageError
        from typer.exceptions import Abort
    except ImportError:
        from click.exceptions import Abort, UsageError  # type: ignore[assignment,no-redef,unused-ignore]
    return UsageError, Abort
