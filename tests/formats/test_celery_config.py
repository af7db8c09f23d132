"""celeryconfig.py: lossless round trip, settings semantics, name styles, edits, the seed merge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.celery_config import CeleryDocument
from remediate.formats.celery_values import Code, render, same_value, split_key
from tests.format_diffs import files, unified
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "celery"
SEED_REDIS = (FIXTURES / "seed-redis.py").read_bytes()
SEED_AMQP = (FIXTURES / "seed-amqp.py").read_bytes()


def celery(text: str | bytes, path: str = "celeryconfig.py") -> CeleryDocument:
    doc = parse("celery", text.encode() if isinstance(text, str) else text, path)
    assert isinstance(doc, CeleryDocument)
    return doc


def seed_merge(path: Path, seed: bytes = SEED_REDIS) -> tuple[bytes, bytes, list[Any]]:
    """(before, after, changes) of merging the seed fix into ``path``; merging again is a no-op."""
    before = path.read_bytes()
    new, changes = merge(celery(before, path.name), celery(seed, "seed.py"))
    again, more = merge(new, celery(seed, "seed.py"))
    assert more == []
    assert again.dump() == new.dump()
    assert celery(new.dump()).dump() == new.dump()  # still valid Python, still lossless
    return before, new.dump(), changes


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "celery"), ids=lambda p: p.name)
def test_corpus_file_round_trips(path: Path) -> None:
    data = path.read_bytes()
    doc = celery(data, str(path))
    assert doc.dump() == data
    assert doc.problems == []
    assert doc.settings()  # every corpus file sets something


@pytest.mark.parametrize("path", files(CORPUS / "templated" / "celery"), ids=lambda p: p.name)
def test_templated_file_round_trips_or_fails_with_one_parse_error(path: Path) -> None:
    data = path.read_bytes()
    try:
        doc = celery(data, str(path))
    except ParseError as error:
        assert error.path == str(path)
        assert error.line is not None and error.line >= 1
        assert str(error).startswith(
            f"{path}:{error.line}:{error.column}: " if error.column else f"{path}:{error.line}: "
        )
    else:
        assert doc.dump() == data


def test_cookiecutter_template_names_the_first_jinja_line() -> None:
    path = CORPUS / "templated/celery/cookiecutter__cookiecutter-django__base.py"
    with pytest.raises(ParseError) as caught:
        celery(path.read_bytes(), str(path))
    line = path.read_text().splitlines()[caught.value.line - 1]  # type: ignore[operator]
    assert line.startswith("{% if cookiecutter.use_docker")
    assert "not valid Python" in caught.value.message


@pytest.mark.parametrize("path", files(FIXTURES), ids=lambda p: p.name)
def test_fixture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    assert celery(data, path.name).dump() == data


def test_fixtures_cover_the_oddities() -> None:
    crlf = (FIXTURES / "crlf-old-style.py").read_bytes()
    assert b"\r\n" in crlf and b"\n" not in crlf.replace(b"\r\n", b"")
    assert not crlf.endswith(b"\n") and b"\t" in crlf and "Réglages".encode() in crlf
    assert "Zürich".encode() in (FIXTURES / "django-settings.py").read_bytes()


@pytest.mark.parametrize(
    "data", [b"a = 1\n\n   ", b"a = 1\r\n\r\n\t\r\n", b"a = 1\n \n\n", b"  \n\t", b"x = 1 \\\n\n"]
)
def test_blank_tail_lines_are_kept(data: bytes) -> None:
    # libcst alone drops some whitespace-only lines at the end of a file; the document keeps them
    doc = celery(data)
    assert doc.dump() == data
    doc.set("broker_heartbeat", 60)
    assert doc.dump().startswith(data) and celery(doc.dump()).current("broker_heartbeat") == 60


# -- parse errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"broker_url = 'redis://'\nbroker_heartbeat = = 10\n", 2, "not valid Python"),
        (b"x = {\n  'a': 1,\n", 1, "not valid Python"),
        (b"a = 1\nb = 2\x00\n", 2, "not valid Python"),
        (b"a = 1\rb = 2\r", 1, "byte for byte"),
        (b"a = 1\n\x0cb = 2\n", 2, "form feed"),
        (b"a = 1\n# caf\xe9\n", 2, "not valid utf-8 text"),
        (b"a = '\xff'\n", 1, "not valid Python"),
        (b"if x:\n\ta = 1\n        b = 2\n", 3, "not valid Python"),
    ],
)
def test_parse_error_names_file_line_and_reason(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        celery(data, "/srv/app/celeryconfig.py")
    assert caught.value.path == "/srv/app/celeryconfig.py"
    assert caught.value.line == line
    assert reason in caught.value.message
    assert str(caught.value).startswith(f"/srv/app/celeryconfig.py:{line}:")
    assert caught.value.line == line


# -- settings() semantics ------------------------------------------------------------


def test_literals_code_and_folded_arithmetic() -> None:
    doc = celery(
        "import os, socket\n"
        "broker_url = os.environ['BROKER_URL']\n"
        "broker_pool_limit = None\n"
        "result_expires = 60 * 60 * 24\n"
        "visibility = 2 ** 10 - 1.5\n"
        "accept_content = ['json', \"msgpack\"]\n"
        "task_default_queue = ('merlin',)\n"
        "broker_transport_options = {\n"
        "    'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60},  # idle\n"
        "    'retry_policy': {'max_retries': -3},\n"
        "}\n"
        "worker_log_format = f'{x}'\n"
        "CELERY_IMPORTS = ('a' 'b', *more)\n"
    )
    got = doc.settings()
    assert got["broker_url"] == Code("os.environ['BROKER_URL']")
    assert str(got["broker_url"]) == "os.environ['BROKER_URL']"
    assert got["broker_pool_limit"] is None
    assert got["result_expires"] == 86400 and type(got["result_expires"]) is int
    assert got["visibility"] == 1022.5
    assert got["accept_content"] == ["json", "msgpack"]
    assert got["task_default_queue"] == ("merlin",)
    assert got["broker_transport_options"] == {
        "socket_keepalive_options": {Code("socket.TCP_KEEPIDLE"): 60},
        "retry_policy": {"max_retries": -3},
    }
    assert got["worker_log_format"] == Code("f'{x}'")
    assert got["CELERY_IMPORTS"] == Code("('ab', *more)")
    assert "os" not in got and "socket" not in got  # imports are not settings


def test_code_is_compared_by_normalized_source() -> None:
    assert Code("socket . TCP_KEEPIDLE") == Code("socket.TCP_KEEPIDLE")
    assert Code('env("A",\n default="x")') == Code("env('A', default='x')")
    assert Code("os.environ['X']").module_roots() == {"os"}
    with pytest.raises(ValueError):
        Code("a = 1")


def test_last_assignment_wins_and_what_is_not_a_setting() -> None:
    doc = celery((FIXTURES / "semicolons-and-continuations.py").read_bytes())
    got = doc.settings()
    assert got["BROKER_HEARTBEAT"] == 0 and got["BROKER_POOL_LIMIT"] is None
    assert got["CELERY_DEFAULT_QUEUE"] == got["CELERY_DEFAULT_EXCHANGE"] == "default"  # chained
    assert "CELERY_ALWAYS_EAGER" not in got  # conditional: not followed
    assert doc.key_lines()[:3] == [
        ("BROKER_URL", 3),
        ("BROKER_HEARTBEAT", 3),
        ("BROKER_POOL_LIMIT", 4),
    ]
    assert "_private" not in got and "os" not in got
    doc = celery("a = 1\nCamelCase = 2\nb: int = 3\nc: int\na = 4\na += 1\n")
    assert doc.settings() == {"a": 4, "b": 3}
    assert doc.line_of("a") == 5


def test_app_module_settings_are_its_conf_writes() -> None:
    doc = celery((FIXTURES / "app-module.py").read_bytes(), "celery.py")
    assert doc.is_app_module and doc.app_receiver == "app"
    assert doc.settings() == {
        "broker_url": "redis://redis:6379/0",
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_acks_late": True,
        "result_backend": "redis://redis:6379/1",
        "broker_connection_retry": False,
        "worker_prefetch_multiplier": 1,
    }  # "timeout = 30" and "app = Celery(...)" are code, not settings
    assert doc.line_of("broker_connection_retry") == 14
    assert doc.line_of("broker_transport_options['visibility_timeout']") == 10


def test_managed_items_flatten_dict_settings_only() -> None:
    doc = celery(
        "broker_transport_options = {'visibility_timeout': 3600, 'x': {'y': 1}}\n"
        "task_routes = {'a.b': {'queue': 'q'}}\n"
        "result_backend_transport_options = BASE\n"
    )
    assert dict(doc.managed_items()) == {
        "broker_transport_options['visibility_timeout']": 3600,
        "broker_transport_options['x']": {"y": 1},
        "task_routes": {"a.b": {"queue": "q"}},  # type "any" in Celery: managed whole
        "result_backend_transport_options": Code("BASE"),
    }
    assert doc.current("broker_transport_options['x']") == {"y": 1}
    assert doc.current("broker_transport_options['nope']") is ABSENT
    assert doc.current("broker_transport_options") == {"visibility_timeout": 3600, "x": {"y": 1}}


def test_same_compares_literals_strictly() -> None:
    doc = celery("a = 1\n")
    assert doc.same("a", 1, 1) and not doc.same("a", 1, 1.0) and not doc.same("a", True, 1)
    assert not doc.same("a", [1], (1,)) and doc.same("a", {"k": [True]}, {"k": [True]})
    assert not doc.same("a", {"k": 1}, {"k": True}) and not doc.same("a", Code("x"), "x")
    assert same_value({Code("socket.TCP_KEEPIDLE"): 60}, {Code("socket.TCP_KEEPIDLE"): 60})


def test_secrets_are_url_passwords_and_password_settings() -> None:
    doc = celery(
        "broker_url = 'amqp://user:pa55@rabbit//;amqp://user:pa55@rabbit2//'\n"
        "result_backend = 'redis://:r3dis@cache:6379/1'\n"
        "BROKER_PASSWORD = 'hunter2'\n"
        "DATABASES = {'default': env.db('DB', default='postgres://u:dbpw@db/x')}\n"
        "broker_transport_options = {'sentinel_kwargs': {'password': 'sent'}}\n"
        "redis_url = 'redis://cache:6379/0'\n"
    )
    assert doc.secrets() == ["pa55", "r3dis", "hunter2", "sent", "dbpw"]


# -- name styles -----------------------------------------------------------------------


def test_old_names_are_read_and_edited_in_their_own_spelling() -> None:
    doc = celery(
        "BROKER_URL = 'amqp://h//'\nBROKER_HEARTBEAT = 0  # off\nCELERYD_CONCURRENCY = 2\n"
    )
    assert doc.style == "old"
    assert doc.current("broker_url") == "amqp://h//"
    assert doc.current("worker_concurrency") == 2
    edit = doc.set("broker_heartbeat", 60)
    assert doc.dump() == (
        b"BROKER_URL = 'amqp://h//'\nBROKER_HEARTBEAT = 60  # off\nCELERYD_CONCURRENCY = 2\n"
    )
    assert edit.lines == (2, 2)
    doc.set("broker_connection_retry", True)  # missing: appended in the file's (old) style
    assert doc.dump().endswith(
        f"\n# {MANAGED_BEGIN}\nBROKER_CONNECTION_RETRY = True\n# {MANAGED_END}\n".encode()
    )


def test_django_namespace_style() -> None:
    doc = celery((FIXTURES / "django-settings.py").read_bytes())
    assert doc.style == "django"
    assert doc.current("broker_heartbeat") == 0
    assert doc.current("task_acks_late") is True
    assert doc.settings()["INSTALLED_APPS"][1] == "shop"
    doc.set("broker_pool_limit", None)
    assert b"\nCELERY_BROKER_POOL_LIMIT = None\n" in doc.dump()


def test_mixed_file_appends_in_the_majority_style() -> None:
    doc = celery(
        "CELERY_BROKER_URL = 'redis://r'\nresult_backend = 'x'\naccept_content = ['json']\n"
    )
    assert doc.style == "new"
    doc.set("broker_heartbeat", 60)
    assert b"\nbroker_heartbeat = 60\n" in doc.dump()


def test_the_spelling_celery_reads_first_is_the_one_edited() -> None:
    # both spellings of one setting: Celery reads the new name before the old one
    doc = celery("broker_heartbeat = 10\nBROKER_HEARTBEAT = 20\nworker_concurrency = 1\n")
    assert doc.current("broker_heartbeat") == 10
    edit = doc.set("broker_heartbeat", 60)
    assert doc.dump() == b"broker_heartbeat = 60\nBROKER_HEARTBEAT = 20\nworker_concurrency = 1\n"
    assert edit.note == "defined twice (lines 1 and 2): edited the effective one, line 1"


# -- editing ---------------------------------------------------------------------------


def test_set_keeps_quote_style_comment_and_semicolon() -> None:
    doc = celery("x = 1; broker_url = \"amqp://a//\" ;  # main\nresult_backend = 'rpc://'\n")
    doc.set("broker_url", "amqp://b//")
    doc.set("result_backend", "redis://r/1")
    assert (
        doc.dump()
        == b"x = 1; broker_url = \"amqp://b//\" ;  # main\nresult_backend = 'redis://r/1'\n"
    )


def test_dict_entry_edited_and_inserted_in_place() -> None:
    doc = celery(
        "broker_transport_options = {\n"
        "\t'visibility_timeout': 3600,  # 1 h\n"
        "\t# 'max_connections': 10,\n"
        "}\nafter = 1\n"
    )
    doc.set("broker_transport_options['visibility_timeout']", 7200)
    edit = doc.set("broker_transport_options['socket_timeout']", 30)
    assert doc.dump() == (
        b"broker_transport_options = {\n"
        b"\t'visibility_timeout': 7200,  # 1 h\n"
        b"\t# 'max_connections': 10,\n"
        b"\t'socket_timeout': 30,\n"
        b"}\nafter = 1\n"
    )
    assert edit.lines == (4, 4)


def test_one_line_dict_grows_on_its_line() -> None:
    doc = celery("broker_transport_options = {'a': 1}  # keep\n")
    doc.set("broker_transport_options['b']", "x")
    assert doc.dump() == b"broker_transport_options = {'a': 1, 'b': 'x'}  # keep\n"


def test_non_dict_value_is_rewritten_as_a_dict_that_keeps_it() -> None:
    doc = celery("BASE = {'a': 1}\nresult_backend_transport_options = BASE\nz = 0\n")
    edit = doc.set("result_backend_transport_options['b']", 2)
    assert doc.dump() == (
        b"BASE = {'a': 1}\nresult_backend_transport_options = {\n"
        b"    **BASE,\n    'b': 2,\n}\nz = 0\n"
    )
    assert "not a dict display" in edit.note
    assert doc.current("result_backend_transport_options['b']") == 2


def test_chained_assignment_is_overridden_not_split() -> None:
    doc = celery("CELERY_DEFAULT_QUEUE = CELERY_DEFAULT_EXCHANGE = 'default'\n")
    edit = doc.set("task_default_queue", "q")
    assert doc.dump().startswith(b"CELERY_DEFAULT_QUEUE = CELERY_DEFAULT_EXCHANGE = 'default'\n")
    assert b"\nCELERY_DEFAULT_QUEUE = 'q'\n" in doc.dump()
    assert edit.note.startswith("line 1 sets it by a chained assignment; appended")
    assert doc.current("task_default_queue") == "q"
    assert doc.current("task_default_exchange") == "default"


def test_app_module_edits_in_place_and_appends_conf_writes() -> None:
    doc = celery((FIXTURES / "app-module.py").read_bytes(), "celery.py")
    doc.set("task_acks_late", False)
    doc.set("result_backend", "rpc://")
    doc.set("worker_prefetch_multiplier", 4)
    doc.set("broker_heartbeat", 60)
    text = doc.dump().decode()
    assert "    task_acks_late=False,\n" in text
    assert 'app.conf.update({"result_backend": "rpc://"})\n' in text
    assert 'app.conf["worker_prefetch_multiplier"] = 4\n' in text
    assert text.endswith(f"# {MANAGED_BEGIN}\napp.conf.broker_heartbeat = 60\n# {MANAGED_END}\n")
    assert "\ntimeout = 30  #" in text  # the module variable of the same name style is untouched


def test_managed_block_is_reused_and_final_newline_added() -> None:
    doc = celery("a = 1")
    doc.set("broker_heartbeat", 60)
    doc.set("broker_pool_limit", 0)
    doc = celery(doc.dump())
    doc.set("broker_connection_timeout", 10)
    assert (
        doc.dump()
        == (
            f"a = 1\n# {MANAGED_BEGIN}\nbroker_heartbeat = 60\n"
            f"broker_pool_limit = 0\nbroker_connection_timeout = 10\n"
            f"# {MANAGED_END}\n"
        ).encode()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # after the last import before the first use
        (
            "import os\nimport kombu\nbroker_transport_options = {}\n",
            (
                "import os\nimport kombu\nimport socket\n"
                "broker_transport_options = {'o': socket.SO_KEEPALIVE}\n"
            ),
        ),
        # no import before the use: at the top, after the docstring and __future__ imports
        # (and the key's quotes follow the file's majority, here the docstring's)
        (
            '"""Doc."""\nfrom __future__ import annotations\nbroker_transport_options = {}\nimport os\n',
            (
                '"""Doc."""\nfrom __future__ import annotations\nimport socket\n'
                'broker_transport_options = {"o": socket.SO_KEEPALIVE}\nimport os\n'
            ),
        ),
        # only used in the managed block and no import at all: first line of the block
        (
            "x = 1\n",
            (
                f"x = 1\n# {MANAGED_BEGIN}\nimport socket\nbroker_transport_options = {{\n"
                f"    'o': socket.SO_KEEPALIVE,\n}}\n# {MANAGED_END}\n"
            ),
        ),
        # already imported: nothing added
        (
            "import socket as socket\nbroker_transport_options = {}\n",
            "import socket as socket\nbroker_transport_options = {'o': socket.SO_KEEPALIVE}\n",
        ),
    ],
)
def test_import_for_a_module_a_value_names(text: str, expected: str) -> None:
    doc = celery(text)
    doc.set("broker_transport_options['o']", Code("socket.SO_KEEPALIVE"))
    assert doc.dump().decode() == expected


def test_remove_every_definition_keeping_comments() -> None:
    doc = celery(
        "# pool\nBROKER_POOL_LIMIT = None\nbroker_pool_limit = 1; x = 2\n"
        "a = BROKER_POOL_LIMIT = 3\nbroker_transport_options = {\n"
        "    'a': 1,\n    'b': 2,\n}\n"
    )
    edit = doc.remove("broker_pool_limit")
    assert edit is not None and edit.note == "removed lines 2, 3 and 4"
    doc.remove("broker_transport_options['b']")
    assert doc.dump() == b"# pool\nx = 2\na = 3\nbroker_transport_options = {\n    'a': 1,\n}\n"
    assert doc.remove("broker_pool_limit") is None
    doc.remove("broker_transport_options['a']")
    assert doc.dump().endswith(b"broker_transport_options = {}\n")


def test_remove_in_an_app_module() -> None:
    doc = celery((FIXTURES / "app-module.py").read_bytes(), "celery.py")
    doc.remove("task_acks_late")
    doc.remove("result_backend")
    doc.remove("broker_connection_retry")
    text = doc.dump().decode()
    assert 'broker_transport_options={"visibility_timeout": 3600},\n)\n' in text
    assert "app.conf.update({})\napp.conf[" in text
    assert "broker_connection_retry" not in text


def test_crlf_file_gets_crlf_lines() -> None:
    doc = celery(b"# \xc3\xa9t\xc3\xa9\r\nBROKER_URL = 'redis://r'\r\n")
    doc.set("broker_transport_options['x']", {"y": 1})
    assert doc.dump() == (
        b"# \xc3\xa9t\xc3\xa9\r\nBROKER_URL = 'redis://r'\r\n"
        + f"# {MANAGED_BEGIN}\r\nBROKER_TRANSPORT_OPTIONS = {{\r\n"
        f"    'x': {{'y': 1}},\r\n}}\r\n# {MANAGED_END}\r\n".encode()
    )


def test_render_values() -> None:
    assert render((1,)) == "(1,)" and render(set()) == "set()"
    assert render(float("inf")) == "float('inf')"
    assert render({"a": [None, True]}, quote='"') == '{"a": [None, True]}'
    assert render("it's") == '"it\'s"' and render('say "hi"', quote='"') == "'say \"hi\"'"
    assert render({"a": 1, Code("x.y"): 2}, indent="\t") == "{\n\t'a': 1,\n\tx.y: 2,\n}"
    with pytest.raises(TypeError):
        render(object())


# -- the seed fix, merged into real files ---------------------------------------------

REALISTIC_DIFF = """\
--- a/realistic-redis.py
+++ b/realistic-redis.py
@@ -3,15 +3,20 @@
 import os
 
 from kombu import Queue
+import socket
 
 # -- broker -------------------------------------------------------------
 broker_url = os.environ.get("CELERY_BROKER_URL", "redis://:s3cret@redis-01:6379/0")
-broker_connection_retry = False  # fail fast in CI
-broker_connection_max_retries = 10
+broker_connection_retry = True  # fail fast in CI
+broker_connection_max_retries = None
 broker_heartbeat = 120  # copied from the RabbitMQ days
 broker_transport_options = {
     "visibility_timeout": 60 * 60 * 12,  # longest ETA is 6 h
     "max_connections": 20,
+    "socket_keepalive": True,
+    "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3},
+    "socket_timeout": 30,
+    "health_check_interval": 25,
 }
 
 # -- results ------------------------------------------------------------
@@ -27,3 +32,6 @@
     Queue("billing.slow", routing_key="billing.slow"),
 )
 worker_prefetch_multiplier = 1
+# BEGIN remediate managed settings
+broker_connection_retry_on_startup = True
+# END remediate managed settings
"""

LLNL_DIFF = '''\
--- a/LLNL__merlin__celeryconfig.py
+++ b/LLNL__merlin__celeryconfig.py
@@ -3,6 +3,7 @@
 """
 
 from merlin.log_formatter import FORMATS
+import socket
 
 
 task_serializer = "pickle"
@@ -19,9 +20,18 @@
 broker_transport_options = {
     "visibility_timeout": 60 * 60 * 24,
     "max_connections": 100,
+    "socket_keepalive": True,
+    "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3},
+    "socket_timeout": 30,
+    "health_check_interval": 25,
 }
 broker_pool_limit = 0
 task_default_queue = ("merlin",)
 worker_log_color = (True,)
 worker_log_format = (FORMATS["DEFAULT"],)
 worker_task_log_format = (FORMATS["WORKER"],)
+# BEGIN remediate managed settings
+broker_connection_retry = True
+broker_connection_retry_on_startup = True
+broker_connection_max_retries = None
+# END remediate managed settings
'''

DEALERTRACK_DIFF = """\
--- a/dealertrack__celery-redis-sentinel__celeryconfig.py
+++ b/dealertrack__celery-redis-sentinel__celeryconfig.py
@@ -1,5 +1,6 @@
 # -*- coding: utf-8 -*-
 from __future__ import absolute_import, print_function, unicode_literals
+import socket
 
 
 CELERY_IMPORTS = ("test_tasks.tasks",)
@@ -10,7 +11,10 @@
                   ('192.168.1.2', 26379),
                   ('192.168.1.3', 26379)],
     'service_name': 'master',
-    'socket_timeout': 1,
+    'socket_timeout': 30,
+    'socket_keepalive': True,
+    'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3},
+    'health_check_interval': 25,
 }
 
 CELERY_RESULT_BACKEND = 'redis-sentinel://redis-sentinel:26379/1'
@@ -22,3 +26,8 @@
 CELERY_ENABLE_UTC = True
 
 CELERY_REDIRECT_STDOUTS_LEVEL = 'INFO'
+# BEGIN remediate managed settings
+BROKER_CONNECTION_RETRY = True
+BROKER_CONNECTION_RETRY_ON_STARTUP = True
+BROKER_CONNECTION_MAX_RETRIES = None
+# END remediate managed settings
"""

OPEN_HUMANS_DIFF = """\
--- a/OpenHumans__open-humans__celery.py
+++ b/OpenHumans__open-humans__celery.py
@@ -3,6 +3,7 @@
 from django.conf import settings
 
 from celery import Celery
+import socket
 
 
 os.environ.setdefault("DJANGO_SETTINGS_MODULE", "open_humans.settings")
@@ -35,3 +36,15 @@
 @app.task(bind=True)
 def debug_task(self):
     print("Request: {0!r}".format(self.request))
+# BEGIN remediate managed settings
+app.conf.BROKER_CONNECTION_RETRY = True
+app.conf.BROKER_CONNECTION_RETRY_ON_STARTUP = True
+app.conf.BROKER_CONNECTION_MAX_RETRIES = None
+app.conf.BROKER_TRANSPORT_OPTIONS = {
+    **app.conf.BROKER_TRANSPORT_OPTIONS,
+    "socket_keepalive": True,
+    "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3},
+    "socket_timeout": 30,
+    "health_check_interval": 25,
+}
+# END remediate managed settings
"""

AMQP_DIFF = """\
--- a/fabianpersson__ACC_project__celeryconfig.py
+++ b/fabianpersson__ACC_project__celeryconfig.py
@@ -1,6 +1,6 @@
 broker_url = 'amqp://guest:guest@rabbit:5672/'
 broker_pool_limit = 1 # Will decrease connection usage
-broker_heartbeat = None # We're using TCP keep-alive instead
+broker_heartbeat = 60 # We're using TCP keep-alive instead
 broker_connection_timeout = 30 # May require a long timeout due to Linux DNS timeouts etc
 result_backend = 'rpc://' # AMQP is not recommended as result backend as it creates thousands of queues
 event_queue_expires = 60 # Will delete all celeryev. queues without consumers after 1 minute.
"""

CRLF_DIFF = """\
--- a/crlf-old-style.py
+++ b/crlf-old-style.py
@@ -1,11 +1,21 @@
 # -*- coding: utf-8 -*-
+import socket
 # Réglages Celery — ancien style (noms en majuscules)
 BROKER_URL = 'redis://cache:6379/2'
 BROKER_TRANSPORT_OPTIONS = {
 \t'visibility_timeout': 7200,\t# 2 h
+\t'socket_keepalive': True,
+\t'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3},
+\t'socket_timeout': 30,
+\t'health_check_interval': 25,
 }
 CELERYD_CONCURRENCY = 4 ; CELERY_ACKS_LATE = True
 CELERY_IMPORTS = ('app.tasks',
                   'app.reports')
 CELERY_TASK_RESULT_EXPIRES = 60 * \\\\
-    60
\\\\ No newline at end of file
+    60
+# BEGIN remediate managed settings
+BROKER_CONNECTION_RETRY = True
+BROKER_CONNECTION_RETRY_ON_STARTUP = True
+BROKER_CONNECTION_MAX_RETRIES = None
+# END remediate managed settings
"""


@pytest.mark.parametrize(
    ("path", "seed", "expected"),
    [
        (FIXTURES / "realistic-redis.py", SEED_REDIS, REALISTIC_DIFF),
        (CORPUS / "celery/LLNL__merlin__celeryconfig.py", SEED_REDIS, LLNL_DIFF),
        (
            CORPUS / "celery/dealertrack__celery-redis-sentinel__celeryconfig.py",
            SEED_REDIS,
            DEALERTRACK_DIFF,
        ),
        (CORPUS / "celery/OpenHumans__open-humans__celery.py", SEED_REDIS, OPEN_HUMANS_DIFF),
        (CORPUS / "celery/fabianpersson__ACC_project__celeryconfig.py", SEED_AMQP, AMQP_DIFF),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_seed_merge_changes_exactly_the_expected_lines(
    path: Path, seed: bytes, expected: str
) -> None:
    before, after, _ = seed_merge(path, seed)
    assert unified(path.name, before, after) == expected


def test_seed_merge_keeps_crlf_and_adds_the_missing_final_newline() -> None:
    before, after, _ = seed_merge(FIXTURES / "crlf-old-style.py")
    assert after.count(b"\n") == after.count(b"\r\n")  # every new line is CRLF too
    crlf = unified(
        "crlf-old-style.py", before.replace(b"\r\n", b"\n"), after.replace(b"\r\n", b"\n")
    )
    assert crlf == CRLF_DIFF.replace("\\\\", "\\")


def test_seed_merge_changes_record_settings_values_and_new_lines() -> None:
    _before, after, changes = seed_merge(FIXTURES / "realistic-redis.py")
    lines = after.decode().splitlines()
    by_key = {c.setting: c for c in changes}
    assert list(by_key) == [
        "broker_connection_retry",
        "broker_connection_retry_on_startup",
        "broker_connection_max_retries",
        "broker_transport_options['socket_keepalive']",
        "broker_transport_options['socket_keepalive_options']",
        "broker_transport_options['socket_timeout']",
        "broker_transport_options['health_check_interval']",
    ]
    retry = by_key["broker_connection_retry"]
    assert (retry.kind, retry.old, retry.new) == ("celery", False, True)
    assert lines[retry.lines[0] - 1] == "broker_connection_retry = True  # fail fast in CI"
    startup = by_key["broker_connection_retry_on_startup"]
    assert startup.old is ABSENT and startup.note == ""
    assert lines[startup.lines[0] - 1] == "broker_connection_retry_on_startup = True"
    options = by_key["broker_transport_options['socket_keepalive_options']"]
    assert options.new == {
        Code("socket.TCP_KEEPIDLE"): 60,
        Code("socket.TCP_KEEPINTVL"): 10,
        Code("socket.TCP_KEEPCNT"): 3,
    }
    assert "added 'import socket' on line 6" in options.note
    assert lines[options.lines[0] - 1].startswith('    "socket_keepalive_options": {socket.')
    for change in changes:  # every recorded range points at the line that sets it
        name = change.setting.split("[")[0].split("'")[0]
        key = change.setting[len(name) :]
        assert name in lines[change.lines[0] - 1] or key.strip("[]'") in lines[change.lines[0] - 1]


@pytest.mark.parametrize(
    "path",
    files(CORPUS / "celery") + [p for p in files(FIXTURES) if not p.name.startswith("seed-")],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("seed", [SEED_REDIS, SEED_AMQP], ids=["redis", "amqp"])
def test_seed_merge_into_every_file_is_valid_and_idempotent(path: Path, seed: bytes) -> None:
    _, after, changes = seed_merge(path, seed)
    merged = celery(after)
    for key, value in celery(seed).managed_items():
        assert same_value(merged.current(key), value), key
    for change in changes:  # each recorded line is where the merged file sets that key
        assert change.lines and merged.line_of(change.setting) == change.lines[0]


# -- properties ------------------------------------------------------------------------

NAMES = [
    "broker_url",
    "broker_heartbeat",
    "BROKER_HEARTBEAT",
    "CELERYD_CONCURRENCY",
    "CELERY_BROKER_POOL_LIMIT",
    "task_acks_late",
    "my_setting",
    "OTHER",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(alphabet="abcxyz_", min_size=1, max_size=5), inner, max_size=3),
    ),
    max_leaves=6,
)
# A comment ending in a backslash on the last statement's line is left out: libcst drops the
# newline after it (libcst.parse_module("x = 1  # \\\n").code == "x = 1  # \\"), and parse()
# refuses such a file with a ParseError rather than lose a byte (tested on its own below).
COMMENT = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x85"
    ),
    max_size=20,
).filter(lambda text: not text.endswith("\\"))


def test_a_last_line_comment_ending_in_a_backslash_is_refused_not_damaged() -> None:
    with pytest.raises(ParseError, match="byte for byte") as caught:
        parse("celery", b"broker_url = None  # \\\n", "celeryconfig.py")
    assert caught.value.line == 1


@st.composite
def config_modules(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A config module's text and what settings() must say about it."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    expected: dict[str, Any] = {}
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["assign", "comment", "blank", "semicolons", "dict", "code"]))
        name, value = draw(st.sampled_from(NAMES)), draw(VALUES)
        trailing = draw(st.sampled_from(["", " ", "\t", "  # " + draw(COMMENT)]))
        if kind == "assign":
            quote = draw(st.sampled_from(["'", '"']))
            lines.append(f"{name} = {render(value, quote)}{trailing}")
            expected[name] = value
        elif kind == "comment":
            lines.append("#" + draw(COMMENT))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "   ", "\t"])))
        elif kind == "semicolons":
            other = draw(st.sampled_from(NAMES))
            lines.append(f"{name} = {render(value)}; {other} = 1;{trailing}")
            expected[name], expected[other] = value, 1
        elif kind == "dict":
            indent = draw(st.sampled_from(["    ", "\t", "  "]))
            entries = draw(
                st.dictionaries(st.sampled_from(["a", "b", "socket_timeout"]), SCALARS, max_size=3)
            )
            body = "".join(
                f"{indent}{render(k)}: {render(v)},{newline}" for k, v in entries.items()
            )
            lines.append(f"{name} = {{{newline}{body}}}{trailing}")
            expected[name] = entries
        else:
            lines.append(f"{name} = os.environ.get({render(draw(COMMENT))}){trailing}")
            expected[name] = Code(lines[-1].split(" = ", 1)[1].split("  #")[0])
    text = newline.join(lines) + (newline if lines and draw(st.booleans()) else "")
    return text, expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_modules())
def test_generated_modules_round_trip_with_the_expected_settings(
    generated: tuple[str, dict[str, Any]],
) -> None:
    text, expected = generated
    doc = celery(text.encode())
    assert doc.dump() == text.encode()
    got = doc.settings()
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert same_value(got[name], value), (name, got[name], value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config_modules(),
    st.sampled_from(
        [
            "broker_heartbeat",
            "worker_concurrency",
            "broker_transport_options['socket_timeout']",
            "broker_transport_options['a']",
        ]
    ),
    VALUES,
)
def test_set_then_read_back_touches_nothing_else(
    generated: tuple[str, dict[str, Any]], key: str, value: Any
) -> None:
    text, _ = generated
    doc = celery(text.encode())
    before = doc.settings()
    doc.set(key, value)
    again = celery(doc.dump())
    assert same_value(again.current(key), value)
    name = key.split("[")[0]
    for other, old in before.items():  # every other setting keeps its value
        if doc._name_of(other) != name:
            assert same_value(again.settings()[other], old), other
    name, sub, flat = split_key(key)
    desired = celery(f"{name} = {render({sub: value} if flat else value)}\n")
    merged, changes = merge(again, desired)
    assert changes == [] and merged.dump() == again.dump()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_any_bytes_round_trip_or_raise_one_parse_error(data: bytes) -> None:
    try:
        doc = celery(data, "x.py")
    except ParseError as error:
        assert error.path == "x.py" and error.message
    else:
        assert doc.dump() == data
