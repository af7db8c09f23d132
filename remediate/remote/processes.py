"""What really runs on a host: every redis-server, beam.smp and celery process, with its
user, executable, argv, working directory and the TCP sockets it listens on (zombies are
skipped: an exited server its parent has not reaped runs nothing).

``PROCESS_PROBE`` runs inside the gather round trip (POSIX ``sh``; shell builtins except one
``readlink`` for the executable, the working directory and the open files of each matching
process). A process owns a listening socket when one of its file descriptors is that socket's
inode in ``/proc/net/tcp`` / ``/proc/net/tcp6`` (state ``0A``, LISTEN): a port answered by
anything else is never mistaken for the server. ``parse_process_probe`` is pure.

Output, one record per process::

    @P <pid> <uid> <comm>
    @E <exe>\\n<cwd>\\n<fd targets, one a line: socket:[inode], /dev/null, pipe:[..] ...>
    @A <argv, NUL-separated>
    @T                 (once, when some process matched)
    <local_address> <tx:rx> <tr:when> <retrnsmt> <uid> <timeout> <inode> ...  (LISTEN rows)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from remediate.model.facts import Listener, ProcessFact

#: The process names (comm) discovered; celery workers are recorded for the workers' checks.
SERVERS = ("redis-server", "beam.smp", "celery")

PROCESS_PROBE = r"""found=
for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null || continue
  case "$c" in redis-server|beam.smp|celery) ;; *) continue;; esac
  uid=; st=
  while read -r k v rest; do
    case "$k" in State:) st=$v;; Uid:) uid=$v; break;; esac
  done < "$d/status" 2>/dev/null
  [ "$st" = Z ] && continue  # a zombie runs nothing
  found=1
  printf '@P %s %s %s\n@E ' "${d#/proc/}" "${uid:--}" "$c"
  readlink "$d/exe" "$d/cwd" "$d"/fd/* 2>/dev/null
  printf '\n@A '; cat "$d/cmdline" 2>/dev/null; printf '\n'
done
if [ -n "$found" ]; then
  echo '@T'
  for t in /proc/net/tcp /proc/net/tcp6; do
    while read -r sl local remote st rest; do
      [ "$st" = 0A ] && echo "$local $rest"
    done < "$t" 2>/dev/null
  done
fi
true"""

_SOCKET = re.compile(r"socket:\[(\d+)\]")


def decode_address(text: str) -> tuple[str, int]:
    """Pure: ``0100007F:18EB`` -> ("127.0.0.1", 6379); the 32-digit IPv6 form likewise.

    The kernel prints the address as the host-order words of the in-memory bytes
    (little-endian on x86 and arm64): each 32-bit word's bytes come reversed."""
    hexaddr, _, hexport = text.partition(":")
    raw = bytes.fromhex(hexaddr)
    if len(raw) not in (4, 16):
        raise ValueError(f"not an address: {text!r}")
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(ordered)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address), int(hexport, 16)


def parse_listen_rows(lines: list[str]) -> dict[int, tuple[str, int]]:
    """Pure: LISTEN rows (``local tx:rx tr:when retrnsmt uid timeout inode ...``) by inode."""
    sockets = {}
    for line in lines:
        words = line.split()
        if len(words) < 7 or not words[6].isdigit():
            continue
        try:
            sockets[int(words[6])] = decode_address(words[0])
        except ValueError:
            continue
    return sockets


@dataclass
class _Found:
    pid: int
    uid: int | None
    name: str
    links: list[str] = field(default_factory=list)
    argv: tuple[str, ...] = ()


def parse_process_probe(output: bytes) -> tuple[ProcessFact, ...]:
    """Pure: the probe's output -> the processes, each with the listeners it owns."""
    found: list[_Found] = []
    listen: list[str] = []
    section = ""
    for raw in output.split(b"\n"):
        if raw.startswith(b"@P "):
            words = raw.decode("utf-8", "replace").split(" ", 3)
            if len(words) < 4 or not words[1].isdigit():
                section = ""
                continue
            found.append(
                _Found(int(words[1]), int(words[2]) if words[2].isdigit() else None, words[3])
            )
            section = "E"
        elif raw.startswith(b"@A ") and found:
            argv = raw[3:].rstrip(b"\0").split(b"\0") if raw[3:] else []
            found[-1].argv = tuple(a.decode("utf-8", "surrogateescape") for a in argv)
            section = ""
        elif raw == b"@T":
            section = "T"
        elif section == "E" and found:
            found[-1].links.append(raw.decode("utf-8", "surrogateescape").removeprefix("@E "))
        elif section == "T" and raw:
            listen.append(raw.decode("ascii", "replace"))
    sockets = parse_listen_rows(listen)
    processes = []
    for entry in found:
        exe, cwd = (entry.links + ["", ""])[:2]
        inodes = [
            int(m.group(1)) for link in entry.links[2:] for m in [_SOCKET.fullmatch(link)] if m
        ]
        listeners = tuple(
            Listener(*sockets[inode], inode=inode) for inode in inodes if inode in sockets
        )
        processes.append(
            ProcessFact(
                entry.pid,
                entry.name,
                entry.uid,
                _plain(exe),
                entry.argv,
                _plain(cwd),
                _sorted(listeners),
            )
        )
    return tuple(sorted(processes, key=lambda p: p.pid))


def _plain(link: str) -> str:
    """A readlink target; a deleted executable keeps its path (`` (deleted)`` stripped)."""
    return link.removesuffix(" (deleted)")


def _sorted(listeners: tuple[Listener, ...]) -> tuple[Listener, ...]:
    unique = {(lst.address, lst.port): lst for lst in listeners}
    return tuple(
        sorted(unique.values(), key=lambda lst: (lst.port, ":" in lst.address, lst.address))
    )


__all__ = ["PROCESS_PROBE", "decode_address", "parse_process_probe"]
