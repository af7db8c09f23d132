"""The drifted fleet of the plan/apply issues, set up on a running test fleet.

Every host carries Debian's full redis.conf drifted to ``timeout 300`` /
``tcp-keepalive 0`` with a ``requirepass`` (owned redis:redis, 0640), a drifted
rabbitmq.conf, Debian's /etc/default/rabbitmq-server with the ignored ``ulimit -n``
advice, and a celeryconfig.py with several of DOMAIN.md's mistakes; its live
redis-server runs with the same drifted values.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from pathlib import Path

import redis

from tests.fleet import Fleet, FleetHost

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Sup3r-s3cret-r3dis-pw"
RABBIT_PASSWORD = "R4bbit-s3cret-pw"
DEBIAN_REDIS = ROOT / "tests" / "fixtures" / "redis" / "debian-redis.conf"

RABBITMQ_CONF = f"""# RabbitMQ for the Celery workers
listeners.tcp.default = 5672
default_user = celery
default_pass = {RABBIT_PASSWORD}
# "raise it so idle workers are not dropped" (they are: NAT drops idle flows)
heartbeat = 580
vm_memory_high_watermark.relative = 0.6
"""

CELERYCONFIG = f"""\"\"\"Celery settings of the billing workers.\"\"\"
import os

broker_url = "redis://:{PASSWORD}@redis-01:6379/0"
result_backend = os.environ.get("RESULT_BACKEND", "redis://localhost:6379/1")

task_serializer = "json"
broker_heartbeat = 10  # advice from a forum thread
broker_connection_retry = False
broker_connection_max_retries = 3
broker_connection_retry_delay = 5
task_acks_late = True
"""


#: A celeryconfig.py with none of DOMAIN.md's mistakes (the seed fix adds the rest).
CLEAN_CELERYCONFIG = f"""\"\"\"Celery settings of the billing workers.\"\"\"
broker_url = "redis://:{PASSWORD}@redis-01:6379/0"
task_serializer = "json"
"""


def make_celery_clean(fleet: Fleet) -> None:
    for host in fleet.hosts:
        write(host, "/srv/app/celeryconfig.py", CLEAN_CELERYCONFIG, 0o640)


def debian_redis_conf() -> bytes:
    data = (
        DEBIAN_REDIS.read_bytes()
        if DEBIAN_REDIS.exists()
        else Path("/etc/redis/redis.conf").read_bytes()
    )
    return data


def drifted_redis_conf() -> bytes:
    text = debian_redis_conf().decode()
    text = text.replace("\ntimeout 0\n", "\ntimeout 300\n").replace(
        "\ntcp-keepalive 300\n", "\ntcp-keepalive 0\n"
    )
    text = text.replace(
        "\n# requirepass foobared\n", f"\n# requirepass foobared\nrequirepass {PASSWORD}\n"
    )
    assert "timeout 300" in text and "tcp-keepalive 0" in text and f"requirepass {PASSWORD}" in text
    return text.encode()


def write(
    host: FleetHost, path: str, content: bytes | str, mode: int = 0o644, owner: str = "root"
) -> None:
    local = host.path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(content.encode() if isinstance(content, str) else content)
    os.chmod(local, mode)
    uid, gid = _ids(owner)
    os.chown(local, uid, gid)


def _ids(owner: str) -> tuple[int, int]:
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid
    except KeyError:
        return 0, 0


def redis_client(host: FleetHost) -> redis.Redis:
    """Straight to the host's redis (for assertions): tries our password, then none."""
    for password in (PASSWORD, None):
        client = redis.Redis(
            host=host.address, port=6379, password=password, socket_timeout=5, decode_responses=True
        )
        try:
            client.ping()
            return client
        except redis.AuthenticationError:
            continue
        except redis.ResponseError as exc:
            if "AUTH" not in str(exc) and "auth" not in str(exc):
                raise
    raise RuntimeError(f"cannot authenticate to redis on {host.name}")


def drift(fleet: Fleet, hosts: list[FleetHost] | None = None) -> None:
    """Put hosts (all by default) into the drifted state: files and live values."""
    for host in hosts or fleet.hosts:
        write(host, "/etc/redis/redis.conf", drifted_redis_conf(), 0o640, "redis")
        write(host, "/etc/rabbitmq/rabbitmq.conf", RABBITMQ_CONF, 0o640, "rabbitmq")
        default = Path("/etc/default/rabbitmq-server")
        text = default.read_text() if default.exists() else "#ulimit -n 1024\n"
        write(
            host, "/etc/default/rabbitmq-server", text.replace("#ulimit -n 1024", "ulimit -n 65536")
        )
        write(host, "/srv/app/celeryconfig.py", CELERYCONFIG, 0o640)
        dropin = host.path("/etc/systemd/system/rabbitmq-server.service.d")
        shutil.rmtree(dropin, ignore_errors=True)
        for old in host.path("/var/lib/remediate").iterdir():  # keep the dir: it is a mount source
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        if host.redis_pid():
            client = redis_client(host)
            client.config_set("timeout", "300")
            client.config_set("tcp-keepalive", "0")
            client.config_set("requirepass", PASSWORD)


def write_project(
    fleet: Fleet, directory: Path, hosts: list[FleetHost] | None = None, playbook: str | None = None
) -> Path:
    """An inventory (groups redis, rabbitmq, workers), the shipped playbook and templates."""
    hosts = hosts or fleet.hosts
    (directory / "inventory").mkdir(parents=True, exist_ok=True)
    lines = ["[fleet]"] + [
        f"{h.name} ansible_host={h.address} redis_host={h.address}" for h in hosts
    ]
    lines += [
        "",
        "[redis:children]",
        "fleet",
        "",
        "[rabbitmq:children]",
        "fleet",
        "",
        "[workers:children]",
        "fleet",
        "",
        "[all:vars]",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={fleet.client_key}",
        "",
    ]
    (directory / "inventory" / "hosts.ini").write_text("\n".join(lines))
    shutil.copytree(ROOT / "templates", directory / "templates", dirs_exist_ok=True)
    (directory / "playbooks").mkdir(exist_ok=True)
    (directory / "playbooks" / "site.yml").write_text(playbook or fleet_playbook())
    return directory


def fleet_playbook() -> str:
    """The shipped site.yml with handlers a test host can run (it has no systemd)."""
    text = (ROOT / "playbooks" / "site.yml").read_text()
    replacements = {
        "command: systemctl restart redis-server": "command: sh /srv/fleet/restart-redis",
        "command: systemctl daemon-reload && systemctl restart rabbitmq-server": 'command: "true"',
        "      check: rabbitmq_running\n": "",
        "  serial: 1\n": "",  # the hosts run no RabbitMQ: no rolling restart to wait for
        "command: systemctl restart celery": 'command: "true"',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text
