"""What ``remediate verify`` runs on a host: the canary's session script, its helper module,
and pure parsers of what they and ``ss`` / ``rabbitmqctl`` print.

The session script is a lock holder in the manner of :func:`remediate.remote.scripts.lock_script`:
it starts the canary worker in the background, prints ``LOCKED <worker pid>``, and then reads
its stdin until the controller closes it, or the SSH session is lost (a killed controller).
Either way it then stops the worker (TERM, then KILL), deletes the canary's queue on the broker
with the helper and removes the private directory: a canary never outlives its controller.

The helper (``remediate_canary_tool.py``, written beside the canary's modules) runs with the
app's interpreter: ``describe`` prints the versions and the connection settings in force as
kombu reads them (passwords masked; the Redis endpoint's password apart, for the observer),
``publish NONCE`` is the fresh producer, ``events SINCE`` reads the worker's log, ``cleanup``
deletes the canary's queue (Redis: the list and kombu's binding key; AMQP: the queue) and says
what remains.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

TOOL_MODULE = "remediate_canary_tool"
#: CLIENT LIST ``cmd`` of a connection that waits for messages (kombu's BRPOP, one a second)
BLOCKING_READS = ("brpop", "blpop", "bzpop", "bzmpop", "blmpop")
WORKER_LOG = "worker.log"
#: seconds the session script waits for the worker to stop after TERM before it KILLs it
STOP_SECONDS = 10

PREPARE_SCRIPT = (
    'umask 077; d=$(mktemp -d "${TMPDIR:-/tmp}/remediate-verify.XXXXXXXX") || exit 1; '
    'chmod 700 "$d" && echo "$d"'
)
#: writes stdin to "$1" (mode 0600: the umask); file contents never travel on a command line
WRITE_SCRIPT = 'umask 077; cat > "$1"'

SESSION_SCRIPT = (
    'd=$1; py=$2; shift 2\ncd "$d" || exit 1\n'
    f'"$py" -m celery "$@" --logfile "$d/{WORKER_LOG}" </dev/null >>"$d/worker.out" 2>&1 &\n'
    "w=$!\n"
    "echo LOCKED $w\n"
    # until the controller closes our stdin, or its SSH session is gone
    "cat >/dev/null\n"
    "exec >/dev/null 2>&1 </dev/null\n"
    "kill -TERM $w 2>/dev/null\n"
    "i=0\n"
    f"while kill -0 $w 2>/dev/null && [ $i -lt {STOP_SECONDS * 10} ]; do sleep 0.1; i=$((i+1)); done\n"
    "kill -KILL $w 2>/dev/null\n"
    f'timeout 30 "$py" {TOOL_MODULE}.py cleanup\n'
    'cd / && rm -rf -- "$d"\n'
)

#: stops the worker (pid $1) now: TERM, a bounded wait, then KILL; prints "stopped"
STOP_SCRIPT = (
    'kill -TERM "$1" 2>/dev/null; i=0\n'
    f'while kill -0 "$1" 2>/dev/null && [ $i -lt {STOP_SECONDS * 10} ]; do sleep 0.1; i=$((i+1)); done\n'
    'kill -KILL "$1" 2>/dev/null; i=0\n'
    'while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n'
    'kill -0 "$1" 2>/dev/null && echo running || echo stopped'
)

#: after the session ended: does the worker (pid $1) still run, does the directory ($2) exist?
LEFTOVERS_SCRIPT = (
    '[ -n "$1" ] && kill -0 "$1" 2>/dev/null && echo "process $1 still runs"; '
    '[ -e "$2" ] && echo "$2 still exists"; true'
)

#: the helper module; run as ``python remediate_canary_tool.py COMMAND`` in the canary's dir
TOOL_SOURCE = r'''"""remediate verify's helper on the host (runs with the app's interpreter)."""
import itertools
import json
import re
import sys
import time
from datetime import datetime

from remediate_canary_config import task_default_queue as QUEUE
from remediate_canary_tasks import app

SECRET = re.compile(r"pass|secret|token|key", re.I)


def _version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return ""


def _plain(value):
    if isinstance(value, dict):
        return {str(k): ("********" if SECRET.search(str(k)) and v else _plain(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def describe():
    conf = app.conf
    conn = app.connection_for_write()
    info = conn.info()
    out = {
        "versions": {n: _version(n) for n in ("celery", "kombu", "redis", "amqp")},
        "python": sys.version.split()[0],
        "transport": conn.transport_cls if isinstance(conn.transport_cls, str) else "",
        "driver": conn.transport.driver_type,
        "url": conn.as_uri(),
        "hostname": info.get("hostname") or "",
        "port": info.get("port") or conn.transport.default_port or 0,
        "virtual_host": str(info.get("virtual_host") or ""),
        "transport_options": _plain(dict(conf.broker_transport_options or {})),
        "broker_heartbeat": conf.broker_heartbeat,
        "broker_connection_retry": conf.broker_connection_retry,
        "broker_connection_max_retries": conf.broker_connection_max_retries,
        "broker_connection_timeout": conf.broker_connection_timeout,
        "broker_use_ssl": bool(conf.broker_use_ssl),
        "password": info.get("password") or "",
    }
    print(json.dumps(out))


def publish(nonce):
    from remediate_canary_tasks import remediate_canary
    started = time.time()
    result = remediate_canary.apply_async(args=[nonce])
    print(json.dumps({"id": result.id, "started": started, "seconds": time.time() - started}))


STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}): (\w+)/[^\]]*\] (.*)$")


def events(since, task_id):
    """Lines of the worker's log after ``since`` (Unix time) that tell the connection's story."""
    found = []
    try:
        lines = open("worker.log", errors="replace").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        match = STAMP.match(line)
        if not match:
            continue
        at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp() + int(match[2]) / 1000
        text = match[4]
        if task_id and "[%s] succeeded" % task_id in text:
            found.append({"at": at - since, "what": "consumed"})
        elif "Connection to broker lost" in text:
            reason = text.split("...")[-1].strip(" ()")
            found.append({"at": at - since, "what": "connection lost" + (": " + reason if reason else "")})
        elif text.startswith("Connected to"):
            found.append({"at": at - since, "what": "connected"})
        elif "Cannot connect" in text or "consumer: Cannot" in text:
            found.append({"at": at - since, "what": "cannot connect"})
    print(json.dumps(found))


def cleanup():
    """Delete the canary's queue; print what of it remains on the broker."""
    remains = []
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=2, timeout=10)
        channel = conn.default_channel
        if hasattr(channel, "priority_steps") and hasattr(channel, "keyprefix_queue"):
            channel._delete(QUEUE, QUEUE, QUEUE, "")
            client = channel.client
            # the queue's lists, and kombu's binding keys (_kombu.binding.Q,
            # _kombu.binding_permanent.Q in 5.7): every key naming the run's unique queue
            pattern = "*" + QUEUE.replace("[", "?").replace("]", "?") + "*"
            keys = set(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
            remains = sorted(str(k) for k in client.scan_iter(match=pattern, count=1000))
        else:
            try:
                channel.queue_delete(QUEUE)
            except Exception as exc:
                if "NOT_FOUND" not in str(exc) and "404" not in str(exc):
                    raise
            try:
                channel.queue_declare(QUEUE, passive=True)
                remains = [QUEUE]
            except Exception:
                remains = []
    print(json.dumps({"remains": remains}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "describe":
        describe()
    elif command == "publish":
        publish(sys.argv[2])
    elif command == "events":
        events(float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
    elif command == "cleanup":
        cleanup()
'''


def client_name_line(run: str) -> str:
    """Config lines giving the canary's Redis connections a name (kombu's ``client_name``)."""
    return (
        "\n# the canary's Redis connections carry its name (CLIENT LIST)\n"
        "broker_transport_options = dict(globals().get('broker_transport_options') or {}, "
        f"client_name={canary_client_name(run)!r})\n"
    )


def canary_client_name(run: str) -> str:
    return f"remediate-verify-{run}"


@dataclass(frozen=True)
class SocketTimer:
    """One TCP socket of the canary as ``ss -tnoe`` shows it."""

    local: str
    peer: str
    timer: str  # "keepalive,59sec,0", "on,200ms,0", "" (none)

    def line(self) -> str:
        return f"{self.local}->{self.peer} {self.timer or 'no timer'}"


_SS_TIMER = re.compile(r"timer:\(([^)]*)\)")


def parse_ss(output: str, pid: int, peer_port: int | None = None) -> tuple[SocketTimer, ...]:
    """Pure: the sockets of ``pid`` in ``ss -tnoep`` output (to ``peer_port`` if given)."""
    found = []
    for line in output.splitlines():
        if f"pid={pid}," not in line:
            continue
        words = line.split()
        if len(words) < 5 or words[0] != "ESTAB":
            continue
        local, peer = words[3], words[4]
        if peer_port is not None and not peer.endswith(f":{peer_port}"):
            continue
        timer = _SS_TIMER.search(line)
        found.append(SocketTimer(local, peer, timer.group(1) if timer else ""))
    return tuple(found)


def parse_json(output: bytes, what: str) -> Any:
    """The last line of a helper's output, as JSON (earlier lines are library noise)."""
    lines = [x for x in output.decode("utf-8", "replace").splitlines() if x.strip()]
    if not lines:
        raise ValueError(f"{what}: no output")
    return json.loads(lines[-1])


def canary_clients(
    clients: list[dict[str, Any]], name: str, baseline: set[str]
) -> list[dict[str, Any]]:
    """Pure: the canary's connections in ``CLIENT LIST``: those named ``name``, else (a kombu
    without ``client_name``) those that were not there before the canary started, except the
    observer's own."""
    named = [c for c in clients if c.get("name") == name]
    if named:
        return named
    return [
        c
        for c in clients
        if str(c.get("id")) not in baseline and "client" not in str(c.get("cmd", ""))
    ]


@dataclass(frozen=True)
class RabbitConnection:
    name: str  # "127.0.0.1:51234 -> 127.0.1.1:5672"
    timeout: int | None  # negotiated heartbeat, seconds


def parse_list_connections(output: str) -> tuple[RabbitConnection, ...]:
    """Pure: ``rabbitmqctl -q list_connections name timeout ...`` rows (tab-separated)."""
    rows = []
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or parts[0] == "name":
            continue
        timeout = int(parts[1]) if parts[1].strip().isdigit() else None
        rows.append(RabbitConnection(parts[0], timeout))
    return tuple(rows)


#: Celery workers that run on the host, however started: the ``celery`` console script (comm
#: ``celery``) or ``python -m celery`` (comm ``python*``; what ``celery worker --detach``
#: re-executes itself as). Zombies have no command line and print nothing.
WORKER_PROBE = r"""for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null || continue
  case "$c" in celery|python*) ;; *) continue;; esac
  printf '@P %s\n' "${d#/proc/}"
  readlink "$d/exe" 2>/dev/null || echo
  tr '\0' '\n' < "$d/cmdline" 2>/dev/null
done
true"""


def parse_worker_probe(output: str) -> tuple[str, ...]:
    """Pure: the interpreter of each Celery worker ``WORKER_PROBE`` found, in pid order.

    A console script's ``argv[0]`` is the interpreter its shebang names (a virtualenv's
    ``bin/python``), whereas ``exe`` is that symlink resolved (the system's python, without
    the app's packages): ``argv[0]`` wins when it is an absolute path to a python."""
    found: list[str] = []
    for record in output.split("@P ")[1:]:
        lines = record.split("\n")
        exe, argv = lines[1].strip(), [x for x in lines[2:] if x]
        if "worker" not in argv:
            continue
        module = any(a == "-m" and b == "celery" for a, b in itertools.pairwise(argv))
        script = any(word.rsplit("/", 1)[-1] == "celery" for word in argv[:2])
        if not (module or script):
            continue
        first = argv[0] if argv else ""
        if first.startswith("/") and first.rsplit("/", 1)[-1].startswith("python"):
            found.append(first)
        elif exe:
            found.append(exe)
    return tuple(dict.fromkeys(found))
