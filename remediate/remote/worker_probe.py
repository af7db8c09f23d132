"""The running Celery workers of a host, read inside the gather round trip (no Python on the
host): pid, user, cwd, command line, interpreter and the versions of celery, kombu, redis-py,
py-amqp and librabbitmq that interpreter loads, the worker's established TCP connections with
their keepalive timer, and its supervisor (systemd unit with its files, or supervisord).

``WORKER_PROBE`` is POSIX ``sh``; per candidate process it forks ``grep`` (is ``celery`` and
``worker`` on its command line), ``cmp`` (a pool child has its parent's command line) and
``tr``/``head`` for argv[0]; everything else is shell builtins. ``parse_worker_probe`` is pure
(``remediate.remote.worker_facts`` reads the command line and the files).

Versions: a ``celery`` console script runs as ``<venv>/bin/python <venv>/bin/celery ...`` (the
kernel puts the shebang's interpreter in argv[0]); ``celery worker --detach`` re-executes
``sys.executable -m celery ...``. ``/proc/PID/exe`` is the *resolved* binary (a venv's
``bin/python`` is a symlink to ``/usr/bin/python3.11``), so the virtualenv is found from argv[0]
as Python itself finds it: a ``pyvenv.cfg`` beside the interpreter or one directory up. The
site-packages are then ``<venv>/lib/python3.X/site-packages`` (plus the base interpreter's when
``include-system-site-packages = true``); without a venv, the base prefix (``exe`` minus
``/bin/...``): Debian's ``local/lib/python3.X/dist-packages``, ``lib/python3/dist-packages``,
``lib/python3.X/dist-packages``, then upstream's ``lib/python3.X/site-packages``. The first
directory that holds a package wins, as on ``sys.path``. Not read: user site-packages
(``~/.local``), ``.pth`` additions, ``PYTHONPATH`` and eggs.

Keepalive: the kernel shows one pending timer per socket, in ``/proc/net/tcp{,6}``'s ``tr``
column (``get_tcp4_sock``: 1 retransmit/loss probe, 4 zero-window probe, else 2 when
``sk_timer`` is pending, which for an ESTABLISHED socket is the keepalive timer, else 0).
``ss -tnoe``'s ``timer:(keepalive,...)`` is the same field over inet_diag (``idiag_timer``,
filled by the same branches in ``inet_diag.c``), so the probe reads ``/proc/net/tcp`` with
builtins and needs no iproute2. While data is in flight (tr 1 or 4) the keepalive timer is
hidden: the socket's keepalive state is then ``unknown``, never ``off``.

Output, one record per worker main process (pool children print only ``@K``)::

    @W <pid> <ppid> <uid> <comm>
    @u <user name from /etc/passwd>
    @F unreadable               (its fds cannot be listed: connections unknown)
    @E <exe>\\n<cwd>\\n<fd targets: socket:[inode] ...>
    @A <argv, NUL-separated>
    @I <interpreter>\\t<venv or ->\\t<python version or ->   (@D/@M follow for a new one)
    @D <site-packages dir, in sys.path order>
    @M <METADATA/PKG-INFO path>\\nName: ..\\nVersion: ..
    @G <a /proc/PID/cgroup line>
    @S <parent's comm>          @N <SUPERVISOR_PROCESS_NAME=...> (under supervisord; and
                                   ``SUPERVISOR_GROUP_NAME=...``)
    @U <unit file or drop-in path>\\n|<line>\\n|<line> ...
    @K <pid> <ppid>             (a pool child)
    @C <supervisord config file>\\n|<line> ...   (after the workers, when one runs under
                                supervisord: the file its supervisord reads (``-c``, else
                                ``/etc/supervisord.conf``, else ``/etc/supervisor/supervisord.conf``,
                                supervisor/options.py's search order for an absolute path)
                                and its ``[include] files`` globs, relative to its directory
                                (``%(here)s`` expanded; ``options.py`` ``read_config``);
                                without one, ``/etc/supervisor/conf.d/*.conf``)
    @T                          (once) then ``<local> <remote> <tr> <inode>`` ESTABLISHED rows
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediate.model.facts import ProcessFact
from remediate.model.workers import WorkerFact
from remediate.remote.gather import ProbeOutput
from remediate.remote.worker_facts import BROKER_PORTS, parse_worker_probe

_UNIT_DIRS = (
    "/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system "
    "/lib/systemd/system /usr/lib/systemd/system"
)

WORKER_PROBE = (
    r"""found=; svpid=; seen='
'
emit() { printf '@U %s\n' "$1"; while IFS= read -r l || [ -n "$l" ]; do printf '|%s\n' "$l"; done 2>/dev/null < "$1"; }
for d in /proc/[0-9]*; do
  read -r c 2>/dev/null < "$d/comm" || continue
  case "$c" in celery|python*|pypy*|\[celeryd*) ;; *) continue;; esac
  grep -qs celery "$d/cmdline" && grep -qs worker "$d/cmdline" || continue
  st=; ppid=; uid=
  while read -r k v rest; do
    case "$k" in State:) st=$v;; PPid:) ppid=$v;; Uid:) uid=$v; break;; esac
  done 2>/dev/null < "$d/status"
  [ "$st" = Z ] && continue
  pid=${d#/proc/}
  if [ -n "$ppid" ] && cmp -s "$d/cmdline" "/proc/$ppid/cmdline"; then
    printf '@K %s %s\n' "$pid" "$ppid"; continue
  fi
  found=1
  printf '@W %s %s %s %s\n' "$pid" "${ppid:--}" "${uid:--}" "$c"
  while IFS=: read -r n x u rest; do
    [ "$u" = "$uid" ] && { printf '@u %s\n' "$n"; break; }
  done 2>/dev/null < /etc/passwd
  exe=$(readlink "$d/exe" 2>/dev/null); cwd=$(readlink "$d/cwd" 2>/dev/null)
  exe=${exe% (deleted)}
  [ -r "$d/fd" ] || printf '@F unreadable\n'
  printf '@E %s\n%s\n' "$exe" "$cwd"
  readlink "$d"/fd/* 2>/dev/null | grep '^socket:'
  printf '\n@A '; cat "$d/cmdline" 2>/dev/null; printf '\n'
  a0=$(tr '\0' '\n' 2>/dev/null < "$d/cmdline" | head -n 1)
  case "$a0" in /*) py=$a0;; \[*|'') py=$exe;; */*) py=$cwd/$a0;; *) py=$exe;; esac
  bin=${py%/*}; venv=
  if [ -f "$bin/pyvenv.cfg" ]; then venv=$bin; elif [ -f "${bin%/*}/pyvenv.cfg" ]; then venv=${bin%/*}; fi
  v=${exe##*/python}; v=${v##*/pypy}
  case "$v" in [0-9].[0-9]*) ;; *) v=;; esac
  sys=false
  if [ -n "$venv" ]; then
    while read -r k eq val; do
      case "$k" in
        version|version_info) [ -z "$v" ] && { v=${val%.*}; case "$v" in *.*.*) v=${v%.*};; esac; };;
        include-system-site-packages) sys=$val;;
      esac
    done 2>/dev/null < "$venv/pyvenv.cfg"
  fi
  printf '@I %s\t%s\t%s\n' "$py" "${venv:--}" "${v:--}"
  key="$venv|$exe"
  case "$seen" in *"
$key
"*) ;; *)
    seen="$seen$key
"
    base=${exe%/bin/*}; pv=${v:-3.*}
    dirs=
    [ -n "$venv" ] && dirs="$venv/lib/python$pv/site-packages"
    if [ -z "$venv" ] || [ "$sys" = true ]; then
      dirs="$dirs $base/local/lib/python$pv/dist-packages $base/lib/python3/dist-packages"
      dirs="$dirs $base/lib/python$pv/dist-packages $base/lib/python$pv/site-packages"
    fi
    for sp in $dirs; do
      [ -d "$sp" ] || continue
      printf '@D %s\n' "$sp"
      for m in "$sp"/*.dist-info/METADATA "$sp"/*.egg-info/PKG-INFO "$sp"/*.egg-info; do
        case "${m#"$sp"/}" in [Cc]elery-*|[Kk]ombu-*|[Rr]edis-*|amqp-*|librabbitmq-*) ;; *) continue;; esac
        [ -f "$m" ] || continue
        printf '@M %s\n' "$m"
        n=
        while read -r k val; do
          case "$k" in Name:) n=$val;; Version:) printf 'Name: %s\nVersion: %s\n' "$n" "$val"; break;; esac
        done 2>/dev/null < "$m"
      done
    done;;
  esac
  unit=
  while IFS= read -r l; do
    printf '@G %s\n' "$l"
    p=${l#*:*:}
    case "$p" in */system.slice/*.service*) u=${p##*/system.slice/}; unit=${u%%/*};; esac
  done 2>/dev/null < "$d/cgroup"
  pc=; read -r pc 2>/dev/null < "/proc/$ppid/comm"
  printf '@S %s\n' "$pc"
  if [ "$pc" = supervisord ]; then
    tr '\0' '\n' 2>/dev/null < "$d/environ" | grep -e '^SUPERVISOR_PROCESS_NAME=' -e '^SUPERVISOR_GROUP_NAME=' | sed 's/^/@N /'
    svpid=$ppid
  fi
  case "$unit" in *.service) ;; *) unit=;; esac
  if [ -n "$unit" ]; then
    tmpl=; case "$unit" in *@*.service) tmpl=${unit%%@*}@.service;; esac
    for dir in """
    + _UNIT_DIRS
    + r"""; do
      for f in "$dir/$unit" ${tmpl:+"$dir/$tmpl"}; do
        [ -f "$f" ] && { emit "$f"; break 2; }
      done
    done
    for dir in """
    + _UNIT_DIRS
    + r"""; do
      for f in "$dir/$unit.d"/*.conf ${tmpl:+"$dir/$tmpl.d"/*.conf}; do
        [ -f "$f" ] && emit "$f"
      done
    done
  fi
done
if [ -n "$svpid" ]; then
  cseen='|'
  conf() { case "$cseen" in *"|$1|"*) return;; esac; cseen="$cseen$1|"; emit "$1" | sed '1s/^@U/@C/'; }
  main=; prev=
  for a in $(tr '\0' ' ' 2>/dev/null < "/proc/$svpid/cmdline"); do
    case "$prev" in -c|--configuration) main=$a;; esac
    case "$a" in --configuration=*) main=${a#*=};; -c?*) main=${a#-c};; esac
    prev=$a
  done
  if [ -n "$main" ]; then
    case "$main" in /*) ;; *) main=$(readlink "/proc/$svpid/cwd" 2>/dev/null)/$main;; esac
  else
    for f in /etc/supervisord.conf /etc/supervisor/supervisord.conf; do [ -f "$f" ] && { main=$f; break; }; done
  fi
  if [ -n "$main" ] && [ -f "$main" ]; then
    conf "$main"
    sec=
    while IFS= read -r l || [ -n "$l" ]; do
      case "$l" in \[*) sec=${l%%]*}];; esac
      [ "$sec" = '[include]' ] || continue
      case "$l" in files*=*|files*:*) ;; *) continue;; esac
      v=${l#*[=:]}; v=${v%%[ 	][;#]*}
      case "$v" in *'%(here)s'*) v=$(printf '%s\n' "$v" | sed "s|%(here)s|${main%/*}|g");; esac
      set -f
      for g in $v; do
        case "$g" in /*) ;; *) g=${main%/*}/$g;; esac
        set +f
        for f in $g; do [ -f "$f" ] && conf "$f"; done
        set -f
      done
      set +f
    done 2>/dev/null < "$main"
  else
    for f in /etc/supervisor/conf.d/*.conf; do [ -f "$f" ] && conf "$f"; done
  fi
fi
if [ -n "$found" ]; then
  echo '@T'
  for t in /proc/net/tcp /proc/net/tcp6; do
    while read -r sl local remote st q tr rt tuid to inode rest; do
      [ "$st" = 01 ] && echo "$local $remote ${tr%%:*} $inode"
    done 2>/dev/null < "$t"
  done
fi
true"""
)


def broker_ports(processes: tuple[ProcessFact, ...], variables: Mapping[str, Any]) -> set[int]:
    """The peer ports that mark a worker's broker connections: the usual broker ports, the
    ports the host's redis-server and beam.smp listen on, and ``redis_port`` /
    ``rabbitmq_port`` of the host's variables."""
    ports = set(BROKER_PORTS)
    ports |= {lst.port for p in processes if p.name != "celery" for lst in p.listeners}
    for name in ("redis_port", "rabbitmq_port"):
        value = str(variables.get(name) or "")
        if value.isdigit():
            ports.add(int(value))
    return ports


def workers_from(
    probe: ProbeOutput | None, processes: tuple[ProcessFact, ...], variables: Mapping[str, Any]
) -> tuple[WorkerFact, ...] | None:
    """The host's running workers from its gather reply; None when the probe did not run."""
    if probe is None:
        return None
    return parse_worker_probe(probe.output, broker_ports(processes, variables))


__all__ = ["BROKER_PORTS", "WORKER_PROBE", "broker_ports", "parse_worker_probe", "workers_from"]
