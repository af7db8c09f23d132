"""The shell scripts apply and rollback send to a host, and pure parsers of their replies.

Scripts are the tool's own text; everything user-controlled (paths, modes, owners,
validate commands after ``%s`` substitution) is quoted with ``shlex.quote``. File
contents travel base64-encoded in here-documents, so one ``sh -s`` round trip
carries every file of a host whatever bytes they hold.
"""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

q = shlex.quote


@dataclass(frozen=True)
class WriteOp:
    """Put ``content`` at ``path`` atomically, as the file it replaces was (or as ``mode``)."""

    index: int
    path: str
    content: bytes | None  # None: remove the file (and the directories in remove_dirs, if empty)
    mode: str  # "0640"
    uid: int | None
    gid: int | None
    existed: bool
    validate: str | None = None
    remove_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    index: int
    status: str  # "renamed" | "copied" | "validate-failed" | "error"
    detail: str = ""
    created_dirs: tuple[str, ...] = ()


def lock_script(lock_path: str, wait_seconds: int) -> list[str]:
    """Hold an flock on ``lock_path`` for as long as our stdin stays open.

    The lock dies with the SSH session, so a killed controller never leaves a host locked.
    Prints ``LOCKED`` once held; exits 75 when another run holds it past ``wait_seconds``.
    """
    script = ('mkdir -p -- "$(dirname -- "$1")" && chmod 700 -- "$(dirname -- "$1")" || exit 1\n'
              'command -v flock >/dev/null || { echo "flock: not installed"; exit 69; }\n'
              'exec flock -w "$2" -E 75 -- "$1" sh -c \'echo LOCKED $$; exec cat >/dev/null\'\n')
    return ["sh", "-c", script, "remediate-lock", lock_path, str(wait_seconds)]


def _heredoc(data: bytes, target: str, tag: str, on_fail: str = "") -> str:
    encoded = base64.encodebytes(data).decode()
    return f"base64 -d > {target} <<'{tag}'{' || ' + on_fail if on_fail else ''}\n{encoded}{tag}\n"


def write_script(run_dir: str, run_id: str, ops: Sequence[WriteOp], manifest: bytes, holder: int) -> str:
    """Back up every file, record the manifest, stage and validate every new file, then rename.

    Nothing live changes until every candidate is staged and validated. Replies:
    ``@R <i> renamed|copied``, ``@V <i> <output…>``, ``@D <i> <dir>`` (created), ``@E <i> <why>``.
    Before each file goes into place the script checks that ``holder`` (the process holding
    the host lock for this controller) still lives: if the controller went away, it stops.
    """
    tag = f"REMEDIATE_{run_id.replace('-', '_').upper()}_EOF"
    parts = ["set -u", "umask 077", f"R={q(run_dir)}", 'mkdir -p -- "$R/files" || exit 1',
             'fail() { echo "@E $1 $2"; for t in $TMPS; do rm -f -- "$t"; done; exit 3; }', "TMPS="]
    for op in ops:  # 1. backups of everything we will touch
        if op.existed:
            parts.append(f'cp -p -- {q(op.path)} "$R/files/{op.index}" || fail {op.index} "backup failed"')
    parts.append(_heredoc(manifest, '"$R/manifest.json.tmp"', tag)
                 + 'mv -f -- "$R/manifest.json.tmp" "$R/manifest.json" || exit 1')
    for op in ops:  # 2. stage and validate each candidate next to its target
        if op.content is None:
            continue
        directory, name = posixpath.split(op.path)
        tmp = q(posixpath.join(directory, f".{name}.remediate-{run_id}"))
        parts.append(_ensure_dir(op.index, directory))
        # leftovers of an interrupted earlier run (never a live file: dot-prefixed, run-suffixed)
        parts.append(f"rm -f -- {q(directory)}/{q('.' + name + '.remediate-')}* 2>/dev/null")
        parts.append(f"TMPS=\"$TMPS {tmp}\"")
        parts.append(_heredoc(op.content, tmp, tag, f'fail {op.index} "cannot write"').rstrip("\n"))
        parts.append(f"chmod {q(op.mode)} {tmp} || fail {op.index} chmod")
        if op.uid is not None and op.gid is not None:
            parts.append(f"chown {op.uid}:{op.gid} {tmp} || fail {op.index} chown")
        parts.append(f"sync -- {tmp} 2>/dev/null || sync")
        if op.validate:
            command = op.validate.replace("%s", tmp)
            parts.append(f"if ! out=$( ( {command} ) 2>&1 ); then echo \"@V {op.index} $(printf %s \"$out\" "
                         "| tr '\\n' ' ' | cut -c1-300)\"; for t in $TMPS; do rm -f -- \"$t\"; done; exit 4; fi")
    alive = (f"kill -0 {int(holder)} 2>/dev/null || {{ echo '@E -1 lost the controller: stopped before this file'; "
             "for t in $TMPS; do rm -f -- \"$t\"; done; exit 6; }")
    for op in ops:  # 3. into place: rename, or an in-place copy where the target is a mount point
        parts.append(alive)
        if op.content is None:
            parts.append(f"rm -f -- {q(op.path)} && echo '@R {op.index} removed' || "
                         f"{{ echo '@E {op.index} cannot remove the file'; exit 5; }}")
            for directory in sorted(op.remove_dirs, key=len, reverse=True):
                parts.append(f"rmdir -- {q(directory)} 2>/dev/null")
            continue
        directory, name = posixpath.split(op.path)
        tmp = q(posixpath.join(directory, f".{name}.remediate-{run_id}"))
        parts.append(f"if mv -f -- {tmp} {q(op.path)} 2>/dev/null; then echo '@R {op.index} renamed'; "
                     f"elif cat -- {tmp} > {q(op.path)} && rm -f -- {tmp}; then echo '@R {op.index} copied'; "
                     f"else echo '@E {op.index} cannot replace the file'; exit 5; fi")
    parts.append("sync")
    return "\n".join(parts) + "\n"


def _ensure_dir(index: int, directory: str) -> str:
    """Create missing parents one by one, reporting each one created (rollback removes them)."""
    return (f"d={q(directory)}; missing=; while [ ! -d \"$d\" ]; do missing=\"$d $missing\"; "
            "d=$(dirname -- \"$d\"); done; "
            f"for d in $missing; do mkdir -m 755 -- \"$d\" || fail {index} mkdir; echo \"@D {index} $d\"; done")


def parse_write_reply(stdout: bytes) -> dict[int, WriteResult]:
    """Pure: the ``@`` lines of a write or restore script, by file index."""
    results: dict[int, WriteResult] = {}
    created: dict[int, list[str]] = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        match = re.match(r"@([RVDE]) (-?\d+) ?(.*)", line)
        if not match:
            continue
        tag, index, rest = match.group(1), int(match.group(2)), match.group(3)
        if tag == "D":
            created.setdefault(index, []).append(rest)
            continue
        status = {"R": rest.split()[0] if rest else "renamed", "V": "validate-failed", "E": "error"}[tag]
        results[index] = WriteResult(index, status, rest if tag != "R" else "")
    return {i: WriteResult(r.index, r.status, r.detail, tuple(created.get(i, ()))) for i, r in results.items()} | {
        i: WriteResult(i, "error", "script stopped", tuple(dirs)) for i, dirs in created.items() if i not in results}


def finish_script(run_dir: str, runs_dir: str, keep: int, manifest: bytes, run_id: str) -> str:
    """Record the final manifest and prune runs beyond the newest ``keep``."""
    tag = f"REMEDIATE_{run_id.replace('-', '_').upper()}_EOF"
    return ("set -u\n" + _heredoc(manifest, q(run_dir + "/manifest.json.tmp"), tag)
            + f"mv -f -- {q(run_dir + '/manifest.json.tmp')} {q(run_dir + '/manifest.json')} || exit 1\n"
            f"cd -- {q(runs_dir)} && ls -1 | grep -E '^[0-9]{{8}}T[0-9]{{6}}Z-[0-9a-f]+$' | sort -r "
            f"| tail -n +{int(keep) + 1} | while read -r old; do rm -rf -- \"$old\"; done\n")


def read_runs_command(runs_dir: str, boundary: str) -> list[str]:
    """Print every run manifest under ``runs_dir``, each after a boundary line."""
    script = ('for m in "$1"/*/manifest.json; do [ -f "$m" ] || continue; '
              'printf \'\\n%s %s\\n\' "$2" "$(basename -- "$(dirname -- "$m")")"; cat -- "$m"; done; '
              'printf \'\\n%s END\\n\' "$2"')
    return ["sh", "-c", script, "remediate-runs", runs_dir, boundary]


def parse_runs_reply(stdout: bytes, boundary: str) -> dict[str, bytes]:
    """Pure: run id -> manifest bytes."""
    records = (b"\n" + stdout).split(b"\n" + boundary.encode() + b" ")[1:]
    if not records or not records[-1].startswith(b"END"):
        raise ValueError("reply ended early")
    out = {}
    for record in records[:-1]:
        header, _, body = record.partition(b"\n")
        out[header.decode().strip()] = body
    return out
