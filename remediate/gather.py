"""Gather files (and small probes) from a host in one round trip.

Like a pyinfra fact: ``gather_command()`` builds one POSIX ``sh`` command (coreutils
only, no Python on the host) and ``parse_gather_reply()`` is a pure function of its
output, tested on recorded replies. ``gather()`` runs the one against a connection
and hands the reply to the other.

Wire format: every record starts on a fresh line with a random boundary token,
so file bytes need no escaping and arrive exactly as they are on disk::

    \\n<B> F <mode> <uid> <gid> <owner> <group> <sha256>\\n<file bytes>
    \\n<B> M                      (missing)
    \\n<B> E <reason>             (exists, but cannot be read as a regular file)
    \\n<B> P <name>\\n<output>\\n<B> X <exit status>   (a probe)
    \\n<B> END
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from remediate.connection import Connection
from remediate.errors import ConnectionFailed

_FILES_SCRIPT = r"""
B=$1; shift
for p do
  if [ -f "$p" ]; then
    if [ -r "$p" ]; then
      st=$(stat -L -c '%a %u %g %U %G' -- "$p" 2>/dev/null) || st='? ? ? ? ?'
      sum=$(sha256sum < "$p" 2>/dev/null) || sum=-
      printf '\n%s F %s %s\n' "$B" "$st" "${sum%% *}"
      cat -- "$p" 2>/dev/null
    else
      printf '\n%s E permission denied\n' "$B"
    fi
  elif [ -e "$p" ]; then
    printf '\n%s E not a regular file\n' "$B"
  else
    printf '\n%s M\n' "$B"
  fi
done
"""

_PROBE_SCRIPT = r"""
printf '\n%s P %s\n' "$B" {name}
( {snippet} ) 2>&1 </dev/null
printf '\n%s X %s\n' "$B" $?
"""


@dataclass(frozen=True)
class FileFact:
    """One path as found on a host: its bytes and metadata, or why there are none."""

    path: str
    exists: bool
    content: bytes = b""
    sha256: str = ""
    mode: str = ""  # "0644"
    uid: int | None = None
    gid: int | None = None
    owner: str = ""
    group: str = ""
    error: str = ""  # set when the path exists but could not be read

    @property
    def readable(self) -> bool:
        return self.exists and not self.error


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


def gather_command(paths: Sequence[str], probes: Mapping[str, str], boundary: str) -> list[str]:
    """The argument vector that gathers ``paths`` and runs ``probes`` in one go.

    Paths travel as positional arguments (never spliced into the script).
    Probe snippets are the tool's own constant shell, never user input.
    """
    script = _FILES_SCRIPT
    for name, snippet in probes.items():
        if not name.isidentifier():
            raise ValueError(f"probe name {name!r} must be an identifier")
        script += _PROBE_SCRIPT.format(name=name, snippet=snippet)
    script += "printf '\\n%s END\\n' \"$B\"\n"
    return ["sh", "-c", script, "remediate-gather", boundary, *paths]


def parse_gather_reply(stdout: bytes, boundary: str, paths: Sequence[str]) -> GatherReply:
    """Pure: turn the gather command's stdout into facts. Raises ValueError if garbled."""
    records = (b"\n" + stdout).split(b"\n" + boundary.encode() + b" ")
    if records[0] not in (b"", b"\n"):
        raise ValueError("unexpected output before the first record")
    records = records[1:]
    if not records or not records[-1].startswith(b"END"):
        raise ValueError("reply ended early (no END record)")
    files: dict[str, FileFact] = {}
    probes: dict[str, ProbeOutput] = {}
    pending_probe: tuple[str, bytes] | None = None
    remaining = list(paths)
    for record in records[:-1]:
        header, _, body = record.partition(b"\n")
        tag, *words = header.decode("utf-8", "replace").split(" ")
        if tag == "P":
            pending_probe = (words[0], body)
            continue
        if tag == "X":
            if pending_probe is None:
                raise ValueError("probe exit status without a probe")
            name, output = pending_probe
            probes[name] = ProbeOutput(name, output, int(words[0]))
            pending_probe = None
            continue
        if not remaining:
            raise ValueError("more file records than paths")
        path = remaining.pop(0)
        files[path] = _file_fact(path, tag, words, body)
    if remaining:
        raise ValueError(f"no record for {remaining[0]}")
    return GatherReply(files, probes)


def _file_fact(path: str, tag: str, words: list[str], body: bytes) -> FileFact:
    if tag == "M":
        return FileFact(path, exists=False)
    if tag == "E":
        return FileFact(path, exists=True, error=" ".join(words))
    if tag != "F" or len(words) != 6:
        raise ValueError(f"garbled record for {path}")
    mode, uid, gid, owner, group, remote_sum = words
    local_sum = hashlib.sha256(body).hexdigest()
    if remote_sum != local_sum:
        return FileFact(path, exists=True, error="file changed while it was being read")
    return FileFact(path, exists=True, content=body, sha256=local_sum,
                    mode=mode.rjust(4, "0") if mode != "?" else "",
                    uid=int(uid) if uid.isdigit() else None,
                    gid=int(gid) if gid.isdigit() else None,
                    owner=owner, group=group)


def gather(conn: Connection, paths: Sequence[str], probes: Mapping[str, str] | None = None,
           timeout: float | None = None) -> GatherReply:
    """Read ``paths`` and run ``probes`` on the host behind ``conn``: one remote command."""
    boundary = "@@remediate-" + secrets.token_hex(12)
    result = conn.run(gather_command(paths, probes or {}, boundary), timeout=timeout)
    try:
        return parse_gather_reply(result.stdout, boundary, paths)
    except ValueError as exc:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f" ({detail[-1]})" if detail else ""
        raise ConnectionFailed(f"gather failed: {exc}{hint}", host=conn.host.name) from None
