"""Pure readers for the worker probe (``remote.worker_probe``): a Celery command line, a
``/proc/PID/cgroup`` line, package metadata, systemd ``Restart=`` over a unit and its drop-ins,
and the whole probe output into ``WorkerFact`` values. No I/O here."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from remediate.model.secrets import mask_urls
from remediate.model.workers import PackageVersions, SocketFact, Supervisor, WorkerFact
from remediate.remote.processes import decode_address

#: Peer ports taken as broker connections (Redis, Redis TLS, Sentinel, AMQP, AMQPS); the host's
#: own redis-server / beam.smp listener ports are added by the caller.
BROKER_PORTS = frozenset({6379, 6380, 26379, 5671, 5672})

#: The packages whose versions are read, by normalized distribution name.
PACKAGES = ("celery", "kombu", "redis", "amqp", "librabbitmq")

#: /proc/net/tcp ``tr`` values (``get_tcp4_sock``).
_TIMERS = {"0": "none", "1": "retransmit", "2": "keepalive", "3": "time-wait", "4": "probe0"}

#: Celery global options that take a value (``celery --help``), short and long.
_GLOBAL_VALUED = {"-A", "--app", "-b", "--broker", "--result-backend", "--loader", "--config"}
_GLOBAL_VALUED |= {"--workdir"}
#: Worker options read here: option -> field.
_WORKER_OPTIONS = {
    "-P": "pool",
    "--pool": "pool",
    "-c": "concurrency",
    "--concurrency": "concurrency",
    "-Q": "queues",
    "--queues": "queues",
    "-n": "hostname",
    "--hostname": "hostname",
    "-A": "app",
    "--app": "app",
    "-b": "broker",
    "--broker": "broker",
}


@dataclass(frozen=True)
class CeleryCommand:
    """What a ``celery ... worker`` command line says."""

    app: str = ""
    pool: str | None = None
    concurrency: int | None = None
    queues: tuple[str, ...] = ()
    without_heartbeat: bool = False
    hostname: str = ""
    broker: str | None = None


def _celery_start(argv: tuple[str, ...]) -> int | None:
    """Index of the first argument after ``celery``: the script (``celery ...``, or
    ``<venv>/bin/python <venv>/bin/celery ...`` as the kernel runs a shebang) or ``-m celery``."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m":
            return i + 2 if argv[i + 1] == "celery" else None
    if argv and posixpath.basename(argv[0]) == "celery":
        return 1
    if len(argv) > 1 and posixpath.basename(argv[1]) == "celery":
        return 2
    return None


def title_argv(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """A command line rewritten by setproctitle (``[celeryd: w@h:MainProcess] -active- (-A p
    worker -P solo)``) -> the arguments in parentheses; a pool child's title -> None."""
    text = " ".join(argv)
    match = re.match(r"\[celeryd: [^\]]*:(\w+)\][^(]*\((.*)\)\s*$", text)
    if not match or match.group(1) != "MainProcess":
        return None
    return ("celery", *match.group(2).split())


def parse_celery_argv(argv: tuple[str, ...]) -> CeleryCommand | None:
    """Pure: a worker's command line -> what it says; None when it does not run ``worker``."""
    if argv and argv[0].startswith("[celeryd:"):
        titled = title_argv(argv)
        if titled is None:
            return None
        argv = titled
    start = _celery_start(argv)
    if start is None:
        return None
    values: dict[str, str] = {}
    flags: set[str] = set()
    worker = False
    i = start
    while i < len(argv):
        arg = argv[i]
        name, eq, attached = arg.partition("=")
        if arg.startswith("--") and eq:
            if name in _WORKER_OPTIONS:
                values.setdefault(_WORKER_OPTIONS[name], attached)
        elif arg in _WORKER_OPTIONS or (not worker and arg in _GLOBAL_VALUED):
            if i + 1 < len(argv):
                if arg in _WORKER_OPTIONS:
                    values.setdefault(_WORKER_OPTIONS[arg], argv[i + 1])
                i += 1
        elif len(arg) > 2 and arg[:2] in _WORKER_OPTIONS and not arg.startswith("--"):
            values.setdefault(_WORKER_OPTIONS[arg[:2]], arg[2:])  # -Psolo, -c4
        elif arg.startswith("-"):
            flags.add(arg)
        elif not worker:
            if arg != "worker":
                return None  # another subcommand: beat, flower, inspect, multi ...
            worker = True
        i += 1
    if not worker:
        return None
    concurrency = values.get("concurrency", "")
    queues = values.get("queues", "")
    return CeleryCommand(
        app=values.get("app", ""),
        pool=values.get("pool"),
        concurrency=int(concurrency) if concurrency.isdigit() else None,
        queues=tuple(q for q in queues.split(",") if q),
        without_heartbeat="--without-heartbeat" in flags,
        hostname=values.get("hostname", ""),
        broker=values.get("broker"),
    )


def unit_from_cgroup(lines: Iterable[str]) -> str | None:
    """Pure: ``0::/system.slice/celery.service`` (v2) or ``1:name=systemd:/system.slice/
    celery@2.service`` (v1) -> the systemd service; None outside system.slice (user units,
    containers, ``0::/``)."""
    unit = None
    for line in lines:
        path = line.split(":", 2)[2] if line.count(":") >= 2 else ""
        match = re.search(r"/system\.slice/([^/]+\.service)(?:/|$)", path)
        if match:
            unit = match.group(1)
    return unit


def effective_restart(files: Iterable[tuple[str, bytes]]) -> str | None:
    """Pure: ``Restart=`` of a unit read with its drop-ins, the last one in systemd's order
    (the unit file first, then drop-ins by file name); None when no file sets it."""
    ordered = list(files)
    unit, drop_ins = ordered[:1], sorted(ordered[1:], key=lambda f: posixpath.basename(f[0]))
    value = None
    for _, content in unit + drop_ins:
        section = ""
        for raw in content.decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif section == "Service" and line.partition("=")[0].strip() == "Restart":
                value = line.partition("=")[2].strip() or None  # "Restart=" resets
    return value


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class _Interpreter:
    path: str = ""
    venv: str = ""
    version: str = ""
    dirs: list[str] = field(default_factory=list)
    found: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (version, dir)


@dataclass
class _Record:
    pid: int
    ppid: int | None
    uid: int | None
    comm: str
    user: str = ""
    exe: str = ""
    cwd: str = ""
    inodes: list[int] = field(default_factory=list)
    argv: tuple[str, ...] = ()
    interpreter: _Interpreter | None = None
    cgroup: list[str] = field(default_factory=list)
    parent: str = ""
    program: str = ""
    group: str = ""
    units: list[tuple[str, list[str]]] = field(default_factory=list)
    fds_read: bool = True


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_worker_probe(
    output: bytes, broker_ports: Iterable[int] = BROKER_PORTS
) -> tuple[WorkerFact, ...]:
    """Pure: the worker probe's output -> one WorkerFact per worker main process."""
    records: list[_Record] = []
    interpreters: dict[tuple[str, str], _Interpreter] = {}
    rows: list[str] = []
    confs: list[tuple[str, list[str]]] = []  # supervisord's config files: (path, lines)
    section = ""
    current_dir = ""
    metadata_name = ""
    for raw in output.split(b"\n"):
        text = raw.decode("utf-8", "surrogateescape")
        tag, _, rest = text.partition(" ")
        if section == "T":
            if text:
                rows.append(text)
            continue
        if tag == "@W":
            words = rest.split(" ", 3)
            if len(words) == 4 and words[0].isdigit():
                records.append(_Record(int(words[0]), _int(words[1]), _int(words[2]), words[3]))
                section = "E"
            else:
                section = ""
            continue
        if tag == "@T" and not rest:
            section = "T"
            continue
        if not records:
            continue
        record = records[-1]
        if tag == "@u":
            record.user = rest
        elif tag == "@F":
            record.fds_read = False
        elif tag == "@E":
            record.exe, section = rest, "E"
        elif tag == "@A":
            argv = raw[3:].rstrip(b"\0").split(b"\0") if raw[3:] else []
            record.argv = tuple(a.decode("utf-8", "surrogateescape") for a in argv)
            section = ""
        elif tag == "@I":
            path, venv, version = (rest.split("\t") + ["", "", ""])[:3]
            key = (venv if venv != "-" else "", record.exe)
            interpreter = interpreters.setdefault(key, _Interpreter())
            interpreter.path = path
            interpreter.venv = key[0]
            interpreter.version = version if version != "-" else ""
            record.interpreter = interpreter
            section = "I"
        elif tag == "@D" and record.interpreter is not None:
            current_dir = rest
            record.interpreter.dirs.append(rest)
        elif tag == "@M":
            metadata_name = ""
        elif section == "I" and text.startswith("Name: "):
            metadata_name = _normalized(text[6:].strip())
        elif section == "I" and text.startswith("Version: ") and record.interpreter is not None:
            if metadata_name in PACKAGES:
                record.interpreter.found.setdefault(metadata_name, (text[9:].strip(), current_dir))
        elif tag == "@G":
            record.cgroup.append(rest)
            section = ""
        elif tag == "@S":
            record.parent = rest
        elif tag == "@N":
            variable, _, value = rest.partition("=")
            if variable == "SUPERVISOR_GROUP_NAME":
                record.group = value
            else:
                record.program = value
        elif tag == "@C":
            confs.append((rest, []))
            section = "C"
        elif section == "C" and text.startswith("|"):
            confs[-1][1].append(text[1:])
        elif tag == "@U":
            record.units.append((rest, []))
            section = "U"
        elif section == "U" and text.startswith("|"):
            record.units[-1][1].append(text[1:])
        elif section == "E" and text:
            match = re.fullmatch(r"socket:\[(\d+)\]", text)
            if match:
                record.inodes.append(int(match.group(1)))
            elif not record.cwd:
                record.cwd = text
    established = _established(rows)
    ports = set(broker_ports)
    workers = []
    supervisord = tuple((path, "\n".join(lines).encode() + b"\n") for path, lines in confs)
    for record in records:
        fact = _worker(record, established, ports, supervisord)
        if fact is not None:
            workers.append(fact)
    return tuple(sorted(workers, key=lambda w: w.pid))


def _established(rows: list[str]) -> dict[int, SocketFact]:
    """``local remote tr inode`` rows -> sockets by inode (peer and timer decoded)."""
    sockets = {}
    for row in rows:
        words = row.split()
        if len(words) != 4 or not words[3].isdigit() or words[3] == "0":
            continue
        try:
            local, peer = decode_address(words[0]), decode_address(words[1])
        except ValueError:
            continue
        timer = _TIMERS.get(words[2].lstrip("0") or "0", words[2])
        sockets[int(words[3])] = SocketFact(
            _endpoint(*peer), timer == "keepalive", _endpoint(*local), timer
        )
    return sockets


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def supervisord_program(names: Iterable[str], files: tuple[tuple[str, bytes], ...]) -> Supervisor:
    """The supervisord program that runs a worker (the first of ``names`` with a
    ``[program:NAME]`` section in ``files``, supervisord's config as read from the host): its
    ``autorestart`` as written, and the file that defines it. Unread when none defines it."""
    from remediate.errors import ParseError
    from remediate.formats.supervisord_conf import parse

    names = [n for n in names if n]
    docs = []
    for path, data in files:
        try:
            docs.append((path, data, parse(data, path)))
        except ParseError:
            continue  # supervisord itself refuses such a file
    for name in names:
        for path, data, doc in docs:
            if f"program:{name}" in doc.sections():
                restart = doc.settings().get(f"program:{name}.autorestart")
                restart = restart.strip() if isinstance(restart, str) else None
                return Supervisor("supervisord", name, restart, ((path, data),), True)
    return Supervisor("supervisord", names[0] if names else "")


def _worker(
    record: _Record,
    sockets: dict[int, SocketFact],
    ports: set[int],
    supervisord: tuple[tuple[str, bytes], ...] = (),
) -> WorkerFact | None:
    command = parse_celery_argv(record.argv)
    if command is None:
        return None
    connections = [sockets[i] for i in record.inodes if i in sockets]
    broker = tuple(sorted((s for s in connections if _port(s.peer) in ports), key=_key))
    interpreter = record.interpreter or _Interpreter()
    found = interpreter.found
    versions = PackageVersions(**{name: found[name][0] for name in PACKAGES if name in found})
    files = tuple((path, "\n".join(lines).encode() + b"\n") for path, lines in record.units)
    unit = unit_from_cgroup(record.cgroup)
    if record.parent == "supervisord":
        supervisor = supervisord_program((record.program, record.group), supervisord)
    elif unit:
        supervisor = Supervisor("systemd", unit, effective_restart(files), files, bool(files))
    else:
        supervisor = Supervisor("none")
    fact = WorkerFact(
        record.pid,
        pool=command.pool,
        versions=versions,
        broker_url=_masked_url(command.broker),
        sockets=broker,
        app=command.app,
        uid=record.uid,
        user=record.user,
        cwd=record.cwd,
        exe=record.exe,
        interpreter=interpreter.path or record.exe,
        site_packages=tuple(d for d in interpreter.dirs if any(found[n][1] == d for n in found)),
        argv=tuple(mask_urls(a) for a in record.argv),
        concurrency=command.concurrency,
        queues=command.queues,
        without_heartbeat=command.without_heartbeat,
        hostname=command.hostname,
        supervisor=supervisor,
        connections_read=record.fds_read,
    )
    return replace(fact, connections=tuple(sorted(connections, key=_key)))


def _key(socket: SocketFact) -> tuple[str, str]:
    return socket.peer, socket.local


def _masked_url(url: str | None) -> str | None:
    """A broker URL without its credentials: ``amqp://u:pw@h//`` -> ``amqp://h//``."""
    if not url:
        return None
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^@/]*@", r"\1", url, flags=re.IGNORECASE)


__all__ = [
    "BROKER_PORTS",
    "CeleryCommand",
    "effective_restart",
    "parse_celery_argv",
    "parse_worker_probe",
    "supervisord_program",
    "title_argv",
    "unit_from_cgroup",
]
