"""SYS002 for a running worker under supervisord: the probe names the program
(SUPERVISOR_PROCESS_NAME, else SUPERVISOR_GROUP_NAME) and reads supervisord's config with its
[include] files in the same round trip; the program's autorestart is judged from that."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from remediate.formats.supervisord_conf import parse
from remediate.model.workers import Supervisor
from remediate.remote.worker_facts import parse_worker_probe, supervisord_program
from remediate.remote.worker_probe import WORKER_PROBE
from remediate.rules import check, check_together
from remediate.rules.base import Facts

RECORDED = Path(__file__).parent / "fixtures" / "probes" / "workers-supervisord.txt"
PROGRAM = b"""[program:celery]
command=/srv/venv/bin/celery -A proj worker
process_name=%(program_name)s_%(process_num)02d
autorestart = unexpected
"""


def test_recorded_worker_under_supervisord_gets_its_programs_autorestart() -> None:
    (worker,) = parse_worker_probe(RECORDED.read_bytes())
    # process celery_00 of program celery (numprocs' process_name): found by its group name
    assert worker.supervisor == Supervisor(
        "supervisord",
        "celery",
        "unexpected",
        (("/tmp/gapsv/conf.d/celery.conf", PROGRAM),),
        True,
    )
    findings = check_together([], Facts(workers=(worker,)))
    assert [(f.rule, f.path, f.line) for f in findings] == [
        ("SYS002", "/tmp/gapsv/conf.d/celery.conf", 4)
    ]
    assert "autorestart unexpected with exitcodes 0" in findings[0].message


def test_autorestart_true_is_no_finding_and_a_program_not_found_is_unread() -> None:
    good = PROGRAM.replace(b"unexpected", b"true")
    found = supervisord_program(("celery_00", "celery"), (("/etc/supervisord.conf", good),))
    assert found.restart == "true" and found.read
    (worker,) = parse_worker_probe(RECORDED.read_bytes())
    assert check_together([], Facts(workers=(replace(worker, supervisor=found),))) == []
    missing = supervisord_program(("web",), (("/etc/supervisord.conf", good),))
    assert missing == Supervisor("supervisord", "web")
    # a managed copy of the file is judged as a managed file (per document), not twice
    doc = parse(PROGRAM, "/tmp/gapsv/conf.d/celery.conf")
    assert check_together([doc], Facts(workers=(worker,))) == []
    assert [f.rule for f in check(doc)] == ["SYS002"]


def test_the_probe_reads_supervisords_config_and_includes(tmp_path: Path) -> None:
    """The real probe over /proc: a parent whose comm is supervisord (run with -c) and a worker
    command line under it."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "celery.py").write_text("import time\ntime.sleep(30)\n")
    (tmp_path / "sv.conf").write_text(
        "[supervisord]\nlogfile=/dev/null\n\n[include]\nfiles = %(here)s/conf.d/*.conf nosuch.ini ; x\n"
    )
    (tmp_path / "conf.d" / "celery.conf").write_bytes(PROGRAM)
    (tmp_path / "conf.d" / "other.txt").write_text("[program:celery]\nautorestart=true\n")
    fake = tmp_path / "supervisord"
    fake.write_text(
        f"#!{sys.executable}\nimport os, subprocess, sys\n"
        "env = dict(os.environ, SUPERVISOR_PROCESS_NAME='celery_00', "
        "SUPERVISOR_GROUP_NAME='celery')\n"
        "subprocess.run([sys.executable, '-m', 'celery', '-A', 'proj', 'worker'], "
        "cwd=sys.argv[3], env=env)\n"
    )
    fake.chmod(0o755)
    parent = subprocess.Popen(
        [str(fake), "-c", "sv.conf", str(tmp_path / "app")], cwd=tmp_path, env=dict(os.environ)
    )
    try:
        workers = ()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            output = subprocess.run(
                ["sh", "-c", WORKER_PROBE], check=True, capture_output=True
            ).stdout
            workers = tuple(w for w in parse_worker_probe(output) if w.cwd == str(tmp_path / "app"))
            if workers:
                break
            time.sleep(0.2)
        (worker,) = workers
        assert worker.supervisor.name == "celery"
        assert worker.supervisor.restart == "unexpected"
        assert worker.supervisor.files == ((str(tmp_path / "conf.d" / "celery.conf"), PROGRAM),)
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait(10)
