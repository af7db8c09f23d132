"""The merge hazard of issue 14: transport options merged into a Celery *app* module whose
settings come from ``config_from_object`` must keep the options set there. Checked by importing
the merged module with a real Celery (5.7) in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from remediate.formats import merge, parse
from tests.celery_env import CURRENT, celery_python

APP_MODULE = b'''"""The orders app: its settings live in orders_settings.py."""
from celery import Celery

app = Celery("orders")
app.config_from_object("orders_settings")
'''
SETTINGS_MODULE = b"""broker_url = "redis://redis-01:6379/0"
broker_transport_options = {"visibility_timeout": 43200, "global_keyprefix": "orders:"}
"""
TEMPLATE = b"""import socket
broker_transport_options = {
    "socket_keepalive": True,
    "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10},
    "socket_timeout": 30,
}
"""
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import orders_app
options = orders_app.app.conf.broker_transport_options
print(json.dumps({str(k): v for k, v in options.items()
                  if k != "socket_keepalive_options"}))
print(json.dumps(sorted(options["socket_keepalive_options"].values())))
"""


def _import_with_celery(directory: Path) -> tuple[dict[str, object], list[int]]:
    done = subprocess.run(
        [str(celery_python(CURRENT)), "-c", PROBE, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    return json.loads(first), json.loads(second)


def test_merged_transport_options_keep_the_ones_config_from_object_loads(tmp_path: Path) -> None:
    live = parse("celery", APP_MODULE, "orders_app.py")
    merged, changes = merge(live, parse("celery", TEMPLATE, "template.py"))
    assert {c.setting for c in changes} == {
        "broker_transport_options['socket_keepalive']",
        "broker_transport_options['socket_keepalive_options']",
        "broker_transport_options['socket_timeout']",
    }
    text = merged.dump().decode()
    assert "app.conf.broker_transport_options = {\n    **app.conf.broker_transport_options," in text
    (tmp_path / "orders_app.py").write_bytes(merged.dump())
    (tmp_path / "orders_settings.py").write_bytes(SETTINGS_MODULE)
    options, keepalive = _import_with_celery(tmp_path)
    assert options == {
        "visibility_timeout": 43200,
        "global_keyprefix": "orders:",
        "socket_keepalive": True,
        "socket_timeout": 30,
    }
    assert keepalive == [10, 60]
    # merging again changes nothing: the entries are read back from the merged file
    again, more = merge(merged, parse("celery", TEMPLATE, "template.py"))
    assert more == [] and again.dump() == merged.dump()


def test_the_hazard_is_real_a_plain_assignment_would_drop_the_loaded_keys(tmp_path: Path) -> None:
    """What the merge used to write: Celery then loses visibility_timeout (43200 -> unset)."""
    (tmp_path / "orders_app.py").write_bytes(
        APP_MODULE + b"import socket\napp.conf.broker_transport_options = {"
        b"'socket_keepalive': True, 'socket_timeout': 30, "
        b"'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60}}\n"
    )
    (tmp_path / "orders_settings.py").write_bytes(SETTINGS_MODULE)
    options, _ = _import_with_celery(tmp_path)
    assert "visibility_timeout" not in options
