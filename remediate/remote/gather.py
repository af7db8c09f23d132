"""Gather files (and small probes) from a host in one round trip.

Like a pyinfra fact: ``gather_command()`` builds one POSIX ``sh`` command (coreutils
only, no Python on the host) and ``parse_gather_reply()`` is a pure function of its
output, tested on recorded replies. ``gather()`` runs the one against a connection
and hands the reply to the other.

Wire format: every record starts on a fresh line with a random boundary token,
so file bytes need no escaping and arrive exactly as they are on disk. The host runs
three processes for all the files together (``stat``, ``sha256sum``, ``cat``), not
three per file: on a fleet, the forks on the hosts' side add up.

Glob patterns (a playbook ``path`` such as ``/etc/redis/redis*.conf``) travel as positional
arguments too and are expanded by the host's shell in the same command: an unquoted
``$pattern`` with ``IFS`` empty undergoes pathname expansion only (no field splitting, no
command substitution: the pattern is data, never script). Each pattern's matches are
listed, then read like the other paths, after them::

    \\n<B> G\\n<the pattern's matches, each ending in NUL>   (one per pattern, in order)
    \\n<B> S <one letter per path, then per match>   F readable, M missing,
                                      D permission denied, N not a regular file
    <mode> <uid> <gid> <owner> <group> <size>\\n   (one line per readable file)
    \\n<B> H\\n<sha256sum lines, one per readable file>
    \\n<B> C\\n<the readable files' bytes, back to back>
    \\n<B> P <name>\\n<output>\\n<B> X <exit status>   (a probe)
    \\n<B> END

The controller cuts the ``C`` body by the sizes and checks each piece against its
sha256: a file that changed between ``stat``, ``sha256sum`` and ``cat`` is reported
as changed while read, never returned torn.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from remediate.errors import CommandFailed
from remediate.model.facts import FileFact
from remediate.remote import steps
from remediate.remote.connection import Connection

#: The largest managed file read (and so written): config files are kilobytes; a bigger
#: one is refused ("too large") instead of being read, diffed and copied line by line.
MAX_FILE_BYTES = 16 * 1024 * 1024

_FILES_SCRIPT = r"""
B=$1; n=$2; shift 2
while [ "$n" -gt 0 ]; do
  g=$1; shift; n=$((n - 1))
  printf '\n%s G\n' "$B"
  IFS=
  for m in $g; do
    if [ -e "$m" ] || [ -L "$m" ]; then printf '%s\0' "$m"; set -- "$@" "$m"; fi
  done
  unset IFS
done
big=
[ $# -gt 0 ] && big=$(find -- "$@" -maxdepth 0 -type f -size +16777216c 2>/dev/null)
tags=
for p do
  shift
  if [ -L "$p" ]; then tags="${tags}L"
  elif [ -n "$big" ] && case "
$big
" in *"
$p
"*) true;; *) false;; esac; then tags="${tags}B"
  elif [ -f "$p" ]; then
    if [ -r "$p" ]; then tags="${tags}F"; set -- "$@" "$p"; else tags="${tags}D"; fi
  elif [ -e "$p" ]; then tags="${tags}N"
  else tags="${tags}M"
  fi
done
printf '\n%s S %s\n' "$B" "$tags"
if [ $# -gt 0 ]; then
  stat -L -c '%a %u %g %U %G %s' -- "$@" 2>/dev/null
  printf '\n%s H\n' "$B"
  sha256sum -- "$@" 2>/dev/null
  printf '\n%s C\n' "$B"
  cat -- "$@" 2>/dev/null
fi
"""

_PROBE_SCRIPT = r"""
printf '\n%s P %s\n' "$B" {name}
( {snippet} ) 2>&1 </dev/null
printf '\n%s X %s\n' "$B" $?
"""


@dataclass(frozen=True)
class ProbeOutput:
    """The combined output and exit status of one probe snippet."""

    name: str
    output: bytes
    exited: int


@dataclass(frozen=True)
class GatherReply:
    files: dict[str, FileFact] = field(default_factory=dict)
    probes: dict[str, ProbeOutput] = field(default_factory=dict)
    #: each glob pattern -> the paths it matched on the host (sorted as the shell sorts them)
    matches: dict[str, tuple[str, ...]] = field(default_factory=dict)


def gather_command(
    paths: Sequence[str],
    probes: Mapping[str, str],
    boundary: str,
    globs: Sequence[str] = (),
) -> list[str]:
    """The argument vector that gathers ``paths`` and every match of ``globs`` and runs
    ``probes`` in one go.

    Paths and patterns travel as positional arguments (never spliced into the script).
    Probe snippets are the tool's own constant shell, never user input.
    """
    script = _FILES_SCRIPT
    for name, snippet in probes.items():
        if not name.isidentifier():
            raise ValueError(f"probe name {name!r} must be an identifier")
        script += _PROBE_SCRIPT.format(name=name, snippet=snippet)
    script += "printf '\\n%s END\\n' \"$B\"\n"
    return ["sh", "-c", script, "remediate-gather", boundary, str(len(globs)), *globs, *paths]


def parse_gather_reply(
    stdout: bytes, boundary: str, paths: Sequence[str], globs: Sequence[str] = ()
) -> GatherReply:
    """Pure: turn the gather command's stdout into facts. Raises ValueError if garbled.

    ``files`` holds ``paths`` and then every match of ``globs`` (a path matched twice, or
    both listed and matched, is one entry)."""
    records = (b"\n" + stdout).split(b"\n" + boundary.encode() + b" ")
    if records[0] not in (b"", b"\n"):
        raise ValueError("unexpected output before the first record")
    records = records[1:]
    if not records or not records[-1].startswith(b"END"):
        raise ValueError("reply ended early (no END record)")
    bodies: dict[str, bytes] = {}
    tags = ""
    probes: dict[str, ProbeOutput] = {}
    pending_probe: tuple[str, bytes] | None = None
    expanded: list[tuple[str, ...]] = []
    for record in records[:-1]:
        header, _, body = record.partition(b"\n")
        tag, *words = header.decode("utf-8", "replace").split(" ")
        if tag == "G" and "S" not in bodies:
            if body and not body.endswith(b"\0"):
                raise ValueError("a glob's matches end early")
            expanded.append(
                tuple(m.decode("utf-8", "surrogateescape") for m in body.split(b"\0")[:-1])
            )
        elif tag == "P":
            pending_probe = (words[0], body)
        elif tag == "X":
            if pending_probe is None:
                raise ValueError("probe exit status without a probe")
            name, output = pending_probe
            probes[name] = ProbeOutput(name, output, int(words[0]))
            pending_probe = None
        elif tag in ("S", "H", "C") and tag not in bodies:
            bodies[tag] = body
            if tag == "S":
                tags = words[0] if words else ""
        else:
            raise ValueError(f"unexpected {tag!r} record")
    if len(expanded) != len(globs):
        raise ValueError("the glob patterns were not all expanded")
    matches = dict(zip(globs, expanded))
    paths = [*paths, *(m for found in expanded for m in found)]
    if "S" not in bodies or len(tags) != len(paths) or set(tags) - set("FMDNLB"):
        raise ValueError("no file list, or one that does not match the paths")
    readable = [p for p, t in zip(paths, tags) if t == "F"]
    if readable and ("H" not in bodies or "C" not in bodies):
        raise ValueError("reply ended before the files' contents")
    files = {
        p: FileFact(p, exists=t != "M", error=_REASONS.get(t, ""))
        for p, t in zip(paths, tags)
        if t != "F"
    }
    files.update(
        _read_files(readable, bodies.get("S", b""), bodies.get("H", b""), bodies.get("C", b""))
    )
    return GatherReply({p: files[p] for p in paths}, probes, matches)


_REASONS = {
    "D": "permission denied",
    "N": "not a regular file",
    # never followed: its target's bytes could end up in output, and a write would replace
    # the link with a file (manage the path it points to instead)
    "L": "a symbolic link; remediate never follows one (manage the file it points to)",
    "B": f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not read (a config file?)",
}
_CHANGED = "file changed while it was being read"


def _read_files(paths: list[str], stats: bytes, sums: bytes, content: bytes) -> dict[str, FileFact]:
    """Cut ``content`` by the sizes ``stat`` gave and check each piece against ``sha256sum``.

    When a line is missing (a file vanished or changed mode between the test and the read),
    which line belongs to which file is unknown: every file is then reported as changed.
    """
    stat_lines = [line for line in stats.decode("utf-8", "replace").splitlines() if line]
    sum_lines = [
        line.lstrip(b"\\")[:64].decode("ascii", "replace") for line in sums.splitlines() if line
    ]
    if len(stat_lines) != len(paths) or len(sum_lines) != len(paths):
        return {p: FileFact(p, exists=True, error=_CHANGED) for p in paths}
    facts = {}
    offset = 0
    for path, stat_line, remote_sum in zip(paths, stat_lines, sum_lines):
        words = stat_line.split(" ")
        if len(words) != 6 or not words[5].isdigit():
            raise ValueError(f"garbled metadata for {path}")
        mode, uid, gid, owner, group, size = words
        body = content[offset : offset + int(size)]
        offset += int(size)
        local_sum = hashlib.sha256(body).hexdigest()
        if remote_sum != local_sum:
            facts[path] = FileFact(path, exists=True, error=_CHANGED)
            continue
        facts[path] = FileFact(
            path,
            exists=True,
            content=body,
            sha256=local_sum,
            mode=mode.rjust(4, "0"),
            uid=int(uid) if uid.isdigit() else None,
            gid=int(gid) if gid.isdigit() else None,
            owner=owner,
            group=group,
        )
    if offset != len(content) and paths:  # bytes left over: the last file grew after sha256sum
        facts[paths[-1]] = FileFact(paths[-1], exists=True, error=_CHANGED)
    return facts


def new_boundary(kind: str = "") -> str:
    """A random token that frames a reply: no file or output can contain it."""
    return f"@@remediate-{kind}{secrets.token_hex(12)}"


def gather(
    conn: Connection,
    paths: Sequence[str],
    probes: Mapping[str, str] | None = None,
    timeout: float | None = None,
    globs: Sequence[str] = (),
) -> GatherReply:
    """Read ``paths`` and the matches of ``globs``, and run ``probes``, on the host behind
    ``conn``: one remote command."""
    boundary = new_boundary()
    result = conn.run(gather_command(paths, probes or {}, boundary, globs), timeout=timeout)
    steps.log.debug(
        "%s: gathered %d bytes (%d files, %d probes)",
        conn.host.name,
        len(result.stdout),
        len(paths),
        len(probes or {}),
    )
    return gathered(result.stdout, boundary, paths, conn.host.name, result.stderr, globs)


def gathered(
    stdout: bytes,
    boundary: str,
    paths: Sequence[str],
    host: str,
    stderr: bytes = b"",
    globs: Sequence[str] = (),
) -> GatherReply:
    """The reply of a gather command run by ``gather`` or by a lock holder; garbled is an error."""
    try:
        return parse_gather_reply(stdout, boundary, paths, globs)
    except ValueError as exc:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f" ({detail[-1]})" if detail else ""
        raise CommandFailed(f"gather failed: {exc}{hint}", host=host) from None
