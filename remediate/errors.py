"""One error tree. Every expected failure is a RemediateError with one clear sentence."""

from __future__ import annotations


class RemediateError(Exception):
    """Root of every error the CLI turns into a one-line message."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        host: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column if line else None  # 1-based, where the parser stopped
        self.host = host

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}: "
            if self.line:
                where = (
                    f"{self.path}:{self.line}:{self.column}: "
                    if self.column
                    else f"{self.path}:{self.line}: "
                )
        if self.host:
            where = f"{self.host}: {where}"
        return f"{where}{self.message}"


class ParseError(RemediateError):
    """A file (config, inventory, playbook, template) that cannot be parsed."""


class InventoryError(ParseError):
    """A malformed inventory."""


class PlaybookError(ParseError):
    """A malformed playbook."""


class TemplateError(ParseError):
    """A template that does not render."""


class UsageError(RemediateError):
    """Bad command-line usage: exit 64."""


class HostPatternError(RemediateError):
    """A host pattern (--limit, a play's hosts:) that is malformed, or a selection that leaves
    no host to target: an error (exit 1), since an empty run would look like a clean fleet."""


class ReportMergeError(RemediateError):
    """Reports that do not merge: other kinds, overlapping hosts, a missing or repeated shard."""


class ConnectionFailed(RemediateError):
    """A host could not be reached, authenticated, or timed out."""


class CommandFailed(RemediateError):
    """A host was reached, but a command on it failed, timed out, or answered something garbled:
    the host is failed (exit 1), never unreachable."""


class LockBusy(CommandFailed):
    """Another run holds a host's lock."""


class ApplyFailed(RemediateError):
    """Apply could not complete on a host (after or before its first write)."""
