"""The shell scripts apply and rollback send to a host, and pure parsers of their replies.

Scripts are the tool's own text; everything user-controlled (paths, modes, owners,
validate commands after ``%s`` substitution) is quoted with ``shlex.quote``. One
``sh -s`` round trip carries every file of a host whatever bytes they hold: UTF-8 text
is written by the shell's own ``printf`` (a single-quoted word holds any byte but NUL),
anything else travels base64-encoded in a here-document.

Every process a script starts costs the host a fork and an exec, and at fleet scale the
hosts' CPU is what an apply waits for, so the scripts start few: modes come from the
umask the file is created under, owners, syncs and leftovers are handled in one call
each for all the files, not one per file.
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


def lock_script(
    lock_path: str, wait_seconds: int, then: Sequence[str] = (), marker: str = ""
) -> list[str]:
    """Hold an flock on ``lock_path`` for as long as our stdin stays open.

    The lock dies with the SSH session, so a killed controller never leaves a host locked.
    Prints ``LOCKED <pid>`` once held (the pid that holds it); exits 75 when another run
    holds it past ``wait_seconds``. ``then``: an argument vector run once the lock is held,
    its output following the ``LOCKED`` line (a gather, in the same round trip), then a
    line ``<marker> <exit status>`` after a newline of its own (``marker``: random, so no
    output can contain it).
    """
    script = (
        # the backup directory is the tool's own: created 0700 when missing, and an existing
        # one is never chmod'ed (it may be /tmp): one another user may write to is refused
        'd=${1%/*}; if [ ! -d "$d" ]; then (umask 077 && mkdir -p -- "$d") || exit 1\n'
        'elif ! [ -O "$d" ] || [ -n "$(find "$d" -maxdepth 0 -perm /022 2>/dev/null)" ]; then\n'
        '  echo "backup directory $d is not owned by this user or is writable by others:"'
        '" refusing to keep backups there (set remediate_backup_dir to a directory of its own)"\n'
        "  exit 78\nfi\n"
        'command -v flock >/dev/null || { echo "flock: not installed"; exit 69; }\n'
        # the shell opens the lock file and keeps it: flock only takes the lock and exits,
        # and cat (the shell, exec'd: same pid) holds it until our stdin closes
        'exec 9>>"$1" || exit 1\n'
        'flock -w "$2" -E 75 9 || exit $?\n'
        "echo LOCKED $$\n"
        "m=$3; shift 3\n"
        'if [ $# -gt 0 ]; then "$@" </dev/null 9>&-; printf \'\\n%s %s\\n\' "$m" $?; fi\n'
        "exec cat >/dev/null\n"
    )
    if then and not marker:
        raise ValueError("a lock script that runs a command needs a marker")
    return ["sh", "-c", script, "remediate-lock", lock_path, str(wait_seconds), marker, *then]


def _put(data: bytes, target: str, tag: str, on_fail: str = "") -> str:
    """Shell that writes exactly ``data`` to ``target`` (a shell word, quoted by the caller)."""
    otherwise = f" || {on_fail}" if on_fail else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" not in text:  # a builtin: no process on the host
        return f"printf %s {q(text)} > {target}{otherwise}\n"
    encoded = base64.encodebytes(data).decode()
    return f"base64 -d > {target} <<'{tag}'{otherwise}\n{encoded}{tag}\n"


def _creation_umask(mode: str) -> int | None:
    """The umask under which a new file gets ``mode`` (from 0666), or None if chmod must."""
    bits = int(mode, 8)
    return None if bits & ~0o666 else 0o777 & ~bits


def write_script(
    run_dir: str, run_id: str, ops: Sequence[WriteOp], manifest: bytes, holder: int
) -> str:
    """Back up every file, record the manifest, stage and validate every new file, then rename.

    Nothing live changes until every candidate is staged and validated. Replies:
    ``@R <i> renamed|copied``, ``@V <i> <output…>``, ``@D <i> <dir>`` (created), ``@E <i> <why>``.
    Before each file goes into place the script checks that ``holder`` (the process holding
    the host lock for this controller) still lives: if the controller went away, it stops.
    """
    tag = f"REMEDIATE_{run_id.replace('-', '_').upper()}_EOF"
    staged = [op for op in ops if op.content is not None]
    tmps = {op.index: q(_staging_path(op.path, run_id)) for op in staged}
    drop_tmps = f"rm -f -- {' '.join(tmps.values())} 2>/dev/null" if tmps else ":"
    parts = [
        "set -u",
        "umask 077",
        f"R={q(run_dir)}",
        'mkdir -p -- "$R/files" || exit 1',
        "ND=0",
        # before anything is in place, a failure removes what the script made: the staged
        # files and, newest first, the directories it created (D1..D$ND: any bytes in names)
        (
            f"cleanup() {{ {drop_tmps}; while [ $ND -gt 0 ]; do eval 'rmdir -- \"$D'$ND'\"' 2>/dev/null; "
            "ND=$((ND-1)); done; }"
        ),
        'fail() { echo "@E $1 $2"; cleanup; exit 3; }',
    ]
    for op in ops:  # 0. a symbolic link is never followed (backup) nor replaced (rename)
        parts.append(f"[ -L {q(op.path)} ] && fail {op.index} 'is a symbolic link: not followed'")
    for op in ops:  # 1. backups of everything we will touch
        if op.existed:
            parts.append(
                f'cp -p -- {q(op.path)} "$R/files/{op.index}" || fail {op.index} "backup failed"'
            )
    parts.append(
        _put(manifest, '"$R/manifest.json.tmp"', tag, "exit 1")
        + 'mv -f -- "$R/manifest.json.tmp" "$R/manifest.json" || exit 1'
    )
    staged = [op for op in ops if op.content is not None]
    tmps = {op.index: q(_staging_path(op.path, run_id)) for op in staged}
    leftovers = [
        f"{q(posixpath.dirname(op.path))}/{q('.' + posixpath.basename(op.path) + '.remediate-')}*"
        for op in staged
    ]
    for op in staged:  # 2. stage each candidate next to its target, created with its mode
        parts.append(_ensure_dir(op.index, posixpath.dirname(op.path)))
    if leftovers:  # of an interrupted earlier run (never a live file: dot-prefixed, run-suffixed)
        parts.append(f'for f in {" ".join(leftovers)}; do [ -e "$f" ] && rm -f -- "$f"; done')
    chmods: dict[str, list[str]] = {}
    chowns: dict[str, list[str]] = {}
    for op in staged:
        assert op.content is not None
        umask = _creation_umask(op.mode)
        parts.append(f"umask {umask if umask is not None else 0o077:04o}")
        parts.append(
            _put(op.content, tmps[op.index], tag, f'fail {op.index} "cannot write"').rstrip("\n")
        )
        if umask is None:
            chmods.setdefault(op.mode, []).append(tmps[op.index])
        if op.uid is not None and op.gid is not None:
            chowns.setdefault(f"{op.uid}:{op.gid}", []).append(tmps[op.index])
    parts.append("umask 077")
    first = staged[0].index if staged else 0
    for mode, paths in chmods.items():
        parts.append(f"chmod {q(mode)} {' '.join(paths)} || fail {first} chmod")
    for owner, paths in chowns.items():
        parts.append(f"chown {owner} {' '.join(paths)} || fail {first} chown")
    if staged:  # the new bytes are on disk before any of them goes into place
        parts.append(f"sync -- {' '.join(tmps.values())} 2>/dev/null || sync")
    for op in staged:
        if op.validate:
            command = op.validate.replace("%s", tmps[op.index])
            parts.append(
                f'if ! out=$( ( {command} ) 2>&1 ); then echo "@V {op.index} $(printf %s "$out" '
                "| tr '\\n' ' ' | cut -c1-300)\"; cleanup; exit 4; fi"
            )
    alive = (
        f"kill -0 {int(holder)} 2>/dev/null || {{ echo '@E -1 lost the controller: stopped before this file'; "
        f"{drop_tmps}; exit 6; }}"
    )
    for op in ops:  # 3. into place: rename, or an in-place copy where the target is a mount point
        parts.append(alive)
        if op.content is None:
            parts.append(
                f"rm -f -- {q(op.path)} && echo '@R {op.index} removed' || "
                f"{{ echo '@E {op.index} cannot remove the file'; exit 5; }}"
            )
            for directory in sorted(op.remove_dirs, key=len, reverse=True):
                parts.append(f"rmdir -- {q(directory)} 2>/dev/null")
            continue
        tmp, target = tmps[op.index], q(op.path)
        parts.append(
            f"if mv -f -- {tmp} {target} 2>/dev/null; then echo '@R {op.index} renamed'; "
            # the in-place copy (a mount point) opens the target for writing only when the staged
            # file is still there: `cat tmp > target` would empty the target first otherwise
            f"elif [ -f {tmp} ] && cat -- {tmp} > {target} && rm -f -- {tmp}; then "
            f"echo '@R {op.index} copied'; "
            f"else echo '@E {op.index} cannot replace the file'; exit 5; fi"
        )
    directories = sorted({q(posixpath.dirname(op.path)) for op in ops})
    parts.append(f"sync -- {' '.join(directories)} 2>/dev/null || sync" if directories else "sync")
    return "\n".join(parts) + "\n"


def _staging_path(path: str, run_id: str) -> str:
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.remediate-{run_id}")


def _ensure_dir(index: int, directory: str) -> str:
    """Create missing parents one by one, reporting each one created (rollback removes them).

    The missing ones are kept in M1..Mk and the created ones in D1..D$ND (``eval`` only ever
    sees variable names), so a directory name with spaces or newlines stays one name.
    """
    return (
        f'd={q(directory)}; k=0; while [ ! -d "$d" ]; do k=$((k+1)); eval "M$k=\\$d"; '
        'd=$(dirname -- "$d"); done; '
        f'while [ $k -gt 0 ]; do eval "d=\\$M$k"; mkdir -m 755 -- "$d" || fail {index} mkdir; '
        f'ND=$((ND+1)); eval "D$ND=\\$d"; echo "@D {index} $d"; k=$((k-1)); done'
    )


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
        status = {
            "R": rest.split()[0] if rest else "renamed",
            "V": "validate-failed",
            "E": "error",
        }[tag]
        results[index] = WriteResult(index, status, rest if tag != "R" else "")
    return {
        i: WriteResult(r.index, r.status, r.detail, tuple(created.get(i, ())))
        for i, r in results.items()
    } | {
        i: WriteResult(i, "error", "script stopped", tuple(dirs))
        for i, dirs in created.items()
        if i not in results
    }


def finish_script(
    run_dir: str,
    runs_dir: str,
    keep: int,
    manifest: bytes,
    run_id: str,
    verify: Sequence[tuple[str, str]] = (),
) -> str:
    """Record the final manifest and prune runs beyond the newest ``keep``.

    With ``verify`` ((path, sha256) pairs, "" for a file that must not exist) the files are
    checked first, by one ``sha256sum -c`` for all of them: if any is not as expected the
    script prints ``@BAD`` and exits 7 without recording anything.
    """
    tag = f"REMEDIATE_{run_id.replace('-', '_').upper()}_EOF"
    lines = ["set -u", "umask 077"]
    absent = [q(path) for path, sha in verify if not sha]
    if absent:
        lines.append(" && ".join(f"[ ! -e {p} ]" for p in absent) + " || { echo @BAD; exit 7; }")
    present = [_checksum_line(sha, path) for path, sha in verify if sha]
    if present:
        lines.append(
            f"sha256sum -c --status <<'{tag}' || {{ echo @BAD; exit 7; }}\n"
            + "".join(present)
            + tag
        )
    return (
        "\n".join(lines)
        + "\n"
        + _put(manifest, q(run_dir + "/manifest.json.tmp"), tag, "exit 1")
        + f"mv -f -- {q(run_dir + '/manifest.json.tmp')} {q(run_dir + '/manifest.json')} || exit 1\n"
        + _PRUNE.replace("RUNS", q(runs_dir)).replace("KEEP", str(int(keep)))
    )


#: Remove all but the newest KEEP run directories of RUNS with one rm: a glob lists them
#: oldest first (their names start with a UTC timestamp; LC_ALL=C makes the order bytewise),
#: and only names of the run id's exact form count.
_PRUNE = r"""cd -- RUNS || exit 0
LC_ALL=C; export LC_ALL
is_run() { case $1 in *[!0-9a-fTZ-]*) return 1;; esac; case ${1#*Z-} in ''|*[!0-9a-f]*) return 1;; esac; [ -d "$1" ]; }
n=0
for r in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-*; do is_run "$r" && n=$((n+1)); done
drop=$((n - KEEP))
[ $drop -gt 0 ] || exit 0
set --
for r in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-*; do
  [ $drop -gt 0 ] || break
  is_run "$r" && { set -- "$@" "$r"; drop=$((drop-1)); }
done
rm -rf -- "$@"
"""


def _checksum_line(sha: str, path: str) -> str:
    """A ``sha256sum -c`` line; names with a backslash or newline in GNU's escaped form."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError(f"not a sha256: {sha!r}")
    if "\\" in path or "\n" in path or "\r" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{sha}  {escaped}\n"
    return f"{sha}  {path}\n"


def read_runs_command(runs_dir: str, boundary: str) -> list[str]:
    """Print every run manifest under ``runs_dir``, each after a boundary line.

    One ``cat`` per manifest and nothing else: the run id comes from parameter expansion,
    not from ``basename``/``dirname`` in subshells (four forks per run, ten runs kept).
    """
    script = (
        'for m in "$1"/*/manifest.json; do [ -f "$m" ] || continue; '
        'd=${m%/manifest.json}; printf \'\\n%s %s\\n\' "$2" "${d##*/}"; cat -- "$m"; done; '
        "printf '\\n%s END\\n' \"$2\""
    )
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
