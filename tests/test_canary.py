"""The canary worker's modules (issue 15's groundwork): what they copy from the app, that they
never show the broker password, and that a REAL Celery worker started from them runs the canary
task from its own queue and touches nothing else on a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from remediate import formats
from remediate.plan.canary import (
    TASK_NAME,
    CanaryError,
    CanaryFiles,
    canary_files,
    canary_queue,
)
from tests.celery_env import CURRENT, celery_python
from tests.local_redis import LocalRedis

PASSWORD = "s3cret-pw"

APP_CONFIG = """\
import os
import socket
from ssl import CERT_REQUIRED

redis_host = "127.0.0.1"
broker_url = f"redis://:{password}@{{redis_host}}:{port}/0"
broker_transport_options = {{
    "socket_keepalive": True,
    "socket_keepalive_options": {{socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10,
                                  socket.TCP_KEEPCNT: 3}},
    "health_check_interval": 25,
    "visibility_timeout": int(os.environ.get("APP_VISIBILITY", "3600")),
}}
broker_connection_retry_on_startup = True
broker_connection_max_retries = 100
broker_heartbeat = 0
task_acks_late = True
worker_concurrency = 8
task_default_queue = "celery"
imports = ("myapp.tasks",)
"""


def app_files(port: int = 6379, run: str = "t1") -> CanaryFiles:
    data = APP_CONFIG.format(password=PASSWORD, port=port).encode()
    return canary_files(formats.parse("celery", data, path="/srv/app/celeryconfig.py"), run)


def test_copies_the_broker_settings_and_nothing_else() -> None:
    files = app_files(6390)
    assert files.copied == (
        "broker_connection_max_retries",
        "broker_connection_retry_on_startup",
        "broker_heartbeat",
        "broker_transport_options",
        "broker_url",
    )
    namespace: dict[str, object] = {}
    code = compile(files.config_source, "remediate_canary_config.py", "exec")
    exec(code, namespace)  # noqa: S102 (our own generated module, as Celery would import it)
    assert namespace["broker_url"] == f"redis://:{PASSWORD}@127.0.0.1:6390/0"
    options = namespace["broker_transport_options"]
    assert isinstance(options, dict) and options["health_check_interval"] == 25
    assert options["socket_keepalive_options"] == {4: 60, 5: 10, 6: 3}  # socket.TCP_KEEP*
    assert options["visibility_timeout"] == 3600
    assert namespace["task_default_queue"] == "remediate.verify.t1"
    assert namespace["worker_prefetch_multiplier"] == 1
    for not_copied in (
        "task_acks_late",
        "worker_concurrency",
        "imports",
        "redis_host",
        "CERT_REQUIRED",
    ):
        assert not_copied not in namespace, not_copied
    assert "_app_redis_host" in namespace  # a helper comes along under a private name
    compile(files.tasks_source, "remediate_canary_tasks.py", "exec")


def test_the_password_never_shows() -> None:
    files = app_files()
    assert PASSWORD in files.config_source  # the worker needs it
    for shown in (repr(files), str(files), f"{files}", files.masked_config()):
        assert PASSWORD not in shown, shown
    assert "masked" in repr(files) and "********" in files.masked_config()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"task_acks_late = True\n", "no broker_url"),
        (
            b"from .base import *\n\nbroker_url = BASE_URL\n",
            "celeryconfig.py:3: broker_url uses 'BASE_URL'",
        ),
    ],
)
def test_what_cannot_be_copied_is_an_error_naming_file_and_line(
    source: bytes, message: str
) -> None:
    with pytest.raises(CanaryError, match=message):
        canary_files(formats.parse("celery", source, path="celeryconfig.py"), "t1")


def test_old_and_django_spellings_are_copied_as_new_names() -> None:
    django = (
        b"INSTALLED_APPS = []\nimport environ\nenv = environ.Env()\n"
        b"CELERY_BROKER_URL = env('REDIS_URL')\nCELERY_BROKER_HEARTBEAT = 10\n"
    )
    files = canary_files(formats.parse("celery", django, path="settings.py"), "t1")
    assert files.copied == ("broker_heartbeat", "broker_url")
    assert "import environ\n" in files.config_source
    assert "broker_url = _app_env('REDIS_URL')" in files.config_source
    # an upper-case helper that is also an old setting name (REDIS_HOST) would make Celery
    # refuse the canary's module for mixing old and new names: it comes along renamed
    django = (
        b"INSTALLED_APPS = []\nREDIS_HOST = 'cache.internal'\n"
        b"CELERY_BROKER_URL = f'redis://{REDIS_HOST}:6379/0'\n"
    )
    files = canary_files(formats.parse("celery", django, path="settings.py"), "t1")
    assert "_app_REDIS_HOST = 'cache.internal'" in files.config_source
    assert "broker_url = f'redis://{_app_REDIS_HOST}:6379/0'" in files.config_source
    assert "\nREDIS_HOST" not in files.config_source
    old = b"BROKER_URL = 'redis://localhost:6379/0'\nCELERYD_CONCURRENCY = 4\n"
    files = canary_files(formats.parse("celery", old, path="celeryconfig.py"), "t1")
    assert "broker_url = 'redis://localhost:6379/0'" in files.config_source
    assert "CELERYD" not in files.config_source and "BROKER_URL" not in files.config_source


def test_run_ids_make_safe_queue_names() -> None:
    assert canary_queue("20240501T120000-3f2a") == "remediate.verify.20240501T120000-3f2a"
    for bad in ("", "a b", "../x", "x;y", "-x"):
        with pytest.raises(CanaryError):
            canary_queue(bad)


# ---------------------------------------------------------------- a real worker


def _wait_for_text(path: Path, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def _processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is ``directory`` (the canary and anything it left)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == directory:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_real_worker_runs_the_canary_from_its_own_queue_only(tmp_path: Path) -> None:
    python = str(celery_python(CURRENT))
    run = f"t{os.getpid()}"
    with LocalRedis(tmp_path / "redis", password=PASSWORD) as server:
        files = app_files(server.port, run)
        canary_dir = (tmp_path / "canary").resolve()
        canary_dir.mkdir(mode=0o700)
        for name, text in files.sources().items():
            (canary_dir / name).write_text(text)
            (canary_dir / name).chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY", "PYTHON"))}

        def producer(code: str) -> str:
            """A fresh producer from the canary's interpreter and modules."""
            done = subprocess.run(
                [python, "-c", code],
                cwd=canary_dir,
                env=env,
                timeout=60,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            return done.stdout.strip()

        broker = server.client()
        # the app's own work, waiting in the app's queue: the canary must leave it there
        producer(
            "from remediate_canary_tasks import app\n"
            "app.send_task('myapp.tasks.work', args=[1], queue='celery')"
        )
        assert broker.llen("celery") == 1

        log = canary_dir / "worker.log"
        worker = subprocess.Popen(
            [python, "-m", "celery", *files.worker_args(), "--logfile", str(log)],
            cwd=canary_dir,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert _wait_for_text(log, " ready.", 60), log.read_text()[-3000:]
            nonce = f"n{time.time_ns()}"
            started = time.monotonic()
            task_id = producer(
                "from remediate_canary_tasks import remediate_canary\n"
                f"print(remediate_canary.apply_async(args=[{nonce!r}]).id)"
            )
            succeeded = f"Task {TASK_NAME}[{task_id}] succeeded"
            assert _wait_for_text(log, succeeded, 15), log.read_text()[-3000:]
            assert time.monotonic() - started < 15
            line = next(x for x in log.read_text().splitlines() if succeeded in x)
            assert f"'{files.token}:{nonce}'" in line, line
            assert broker.llen("celery") == 1  # the app's message is still waiting
            assert broker.llen(files.queue) == 0
            assert PASSWORD not in log.read_text()
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(10)
        broker.close()
        with pytest.raises(ProcessLookupError):
            os.killpg(worker.pid, 0)  # nothing of the worker's process group is left
        assert _processes_in(canary_dir) == []
        redis_pid = server.process.pid if server.process else None
    assert redis_pid is not None and not Path(f"/proc/{redis_pid}").exists()
