"""redis.conf / sentinel.conf / ACL files: lossless round trip, Redis semantics, edits, merge."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse, redis_conf
from remediate.formats.base import MANAGED_BEGIN, MANAGED_END
from remediate.formats.redis_args import parse_memory, quote_arg, split_args
from remediate.formats.redis_conf import KNOWN_DIRECTIVES, SECRET_DIRECTIVES, RedisDocument
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "redis"
SEED = b"timeout 0\ntcp-keepalive 60\n"


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def redis(text: str | bytes, path: str = "redis.conf") -> RedisDocument:
    doc = parse("redis", text.encode() if isinstance(text, str) else text, path)
    assert isinstance(doc, RedisDocument)
    return doc


def unified(name: str, before: bytes, after: bytes) -> str:
    """A unified diff like GNU diff's (three lines of context)."""
    old = before.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    new = after.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"))


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "redis"), ids=lambda p: p.name)
def test_corpus_file_round_trips_without_false_problems(path: Path) -> None:
    data = path.read_bytes()
    doc = redis(data, str(path))
    assert doc.dump() == data
    assert doc.problems == []  # real files Redis 7 loads: nothing to report
    assert doc.settings()


@pytest.mark.parametrize("path", files(CORPUS / "templated" / "redis"), ids=lambda p: p.name)
def test_templated_file_round_trips_or_fails_with_one_parse_error(path: Path) -> None:
    data = path.read_bytes()
    try:
        doc = redis(data, str(path))
    except ParseError as error:  # no other exception type is acceptable
        assert error.path == str(path) and error.line
        return
    assert doc.dump() == data


def test_template_syntax_shows_up_as_problems_not_errors() -> None:
    path = CORPUS / "templated" / "redis" / "argoproj-labs__argocd-operator__redis.conf.tpl"
    doc = redis(path.read_bytes(), str(path))
    assert [(p.line, p.column) for p in doc.problems] == [(2, 25), (4, 1), (12, 1)]
    assert "closing quote" in doc.problems[0].reason  # {{- if eq .UseTLS "false"}}
    assert "unknown directive '{{-'" in doc.problems[1].reason


@pytest.mark.parametrize("path", files(FIXTURES), ids=lambda p: p.name)
def test_fixture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    assert redis(data, str(path)).dump() == data


@given(st.binary(max_size=300))
def test_any_bytes_parse_and_round_trip(data: bytes) -> None:
    for flavor in ("server", "sentinel", "acl"):
        doc = redis_conf.parse(data, "x.conf", flavor=flavor)
        assert doc.dump() == data
        assert isinstance(doc.settings(), dict) and isinstance(doc.secrets(), list)
        assert all(isinstance(key, str) for key, _ in doc.managed_items())


REDIS_CHARS = st.sampled_from(
    [
        " ",
        "\t",
        "\r",
        "\n",
        "\r\n",
        '"',
        "'",
        "\\",
        "\\x4",
        "1",
        "a",
        "#",
        "é",
        "\v",
        "timeout",
        "user",
        "save",
        "sentinel",
        "k",
    ]
)


@given(st.lists(REDIS_CHARS, max_size=40).map("".join))
def test_redis_like_text_round_trips(text: str) -> None:
    doc = redis(text)
    assert doc.dump() == text.encode()


@given(
    st.text(
        alphabet=st.characters(codec="utf-8")
        | st.sampled_from(["\udc80", "\udcff", '"', "'", "\\", "\x00", " ", "\t", "\n", "#"])
    )
)
def test_quote_arg_is_read_back_by_split_args(arg: str) -> None:
    assert [t.value for t in split_args(quote_arg(arg))] == [arg]


# -- sdssplitargs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("timeout 0", ["timeout", "0"]),
        ('  bind "127.0.0.1"\t -::1  ', ["bind", "127.0.0.1", "-::1"]),
        ('requirepass "p\\x41ss w\\"rd\\n"', ["requirepass", 'pAss w"rd\n']),
        ("requirepass 'it\\'s \\n'", ["requirepass", "it's \\n"]),
        ('logfile ""', ["logfile", ""]),
        ("save ''", ["save", ""]),
        ('a"b c"', ["ab c"]),  # a quote inside a word starts a quoted part that ends the word
        ('x "\\xc3\\xa9"', ["x", "é"]),
        ('x "\\xzz"', ["x", "xzz"]),
        ("maxmemory\v2gb", ["maxmemory\v2gb"]),  # VT is not a separator outside quotes
    ],
)
def test_split_args_matches_sdssplitargs(line: str, args: list[str]) -> None:
    assert [t.value for t in split_args(line)] == args


# -- settings() semantics ----------------------------------------------------------------


def test_settings_value_shapes() -> None:
    doc = redis(
        "Timeout 300\n"
        "save 900 1\n"
        "save 300 10\n"
        "bind 127.0.0.1 -::1\n"
        "slaveof 10.0.0.1 6379\n"
        "slave-read-only no\n"
        "maxmemory 2GB\n"
        'rename-command CONFIG ""\n'
        "user default on nopass ~* +@all\n"
        "client-output-buffer-limit normal 0 0 0\n"
        "client-output-buffer-limit pubsub 32mb 8mb 60\n"
        "timeout 0\n"
        "list-max-ziplist-entries 512\n"  # deprecated: Redis skips it, so do we
        "# timeout 10\n"
    )
    assert doc.settings() == {
        "timeout": "0",  # the last line wins
        "save": [("900", "1"), ("300", "10")],
        "bind": "127.0.0.1 -::1",
        "replicaof": "10.0.0.1 6379",  # old names are reported under Redis 7's name
        "replica-read-only": "no",
        "maxmemory": "2GB",
        "rename-command": [("CONFIG", "")],
        "user": [("default", "on", "nopass", "~*", "+@all")],
        "client-output-buffer-limit": [("normal", "0", "0", "0"), ("pubsub", "32mb", "8mb", "60")],
    }
    assert doc.line_of("timeout") == 12 and doc.line_of("slaveof") == 5
    assert doc.line_of("maxclients") is None
    assert doc.current("user default") == ("default", "on", "nopass", "~*", "+@all")
    assert doc.current("client-output-buffer-limit pubsub") == ("pubsub", "32mb", "8mb", "60")
    assert doc.current("client-output-buffer-limit replica") is ABSENT


def test_sentinel_files_accept_upper_case_keyword_and_flatten_by_master() -> None:
    path = CORPUS / "redis" / "OT-CONTAINER-KIT__redis__sentine.conf"
    doc = redis(path.read_bytes(), str(path))
    assert doc.flavor == "sentinel" and doc.problems == []
    assert doc.settings()["sentinel"] == [
        ("deny-scripts-reconfig", "yes"),
        ("resolve-hostnames", "no"),
        ("announce-hostnames", "no"),
    ]
    assert dict(doc.managed_items())["sentinel resolve-hostnames"] == ("resolve-hostnames", "no")
    canonical = redis(
        (CORPUS / "redis" / "redis__redis__sentinel.conf").read_bytes(), "sentinel.conf"
    )
    assert canonical.current("sentinel monitor mymaster") == (
        "monitor",
        "mymaster",
        "127.0.0.1",
        "6379",
        "2",
    )


@pytest.mark.parametrize(
    ("name", "text", "flavor"),
    [
        ("users.acl", "user default on nopass ~* +@all\n", "acl"),
        ("redis.conf", "user alice on >pw ~* +@all\nuser bob off\n", "acl"),
        ("redis.conf", "port 26379\ndir /tmp\n", "sentinel"),
        ("sentinel-26380.conf", "port 26380\n", "sentinel"),
        ("node.conf", "SENTINEL resolve-hostnames no\n", "sentinel"),
        ("redis.conf", "# users\nuser alice on >pw\n", "server"),
        ("redis.conf", "", "server"),
    ],
)
def test_flavor_is_detected_from_name_and_content(name: str, text: str, flavor: str) -> None:
    assert redis(text, name).flavor == flavor


def test_acl_files_are_split_on_spaces_and_refuse_comments() -> None:
    doc = redis((FIXTURES / "commented.acl").read_bytes(), "users.acl")
    assert [(p.line, p.column) for p in doc.problems] == [(1, 1)]
    assert "comments" in doc.problems[0].reason
    assert [u[0] for u in doc.settings()["user"]] == ["default", "worker"]
    selectors = redis(
        (CORPUS / "redis" / "redis__redis__userwithselectors.acl").read_bytes(),
        "userwithselectors.acl",
    )
    assert selectors.settings()["user"][1] == ("bob", "on", "(+set", "%W~w*)", "(+get", "%R~r*)")


# -- same(): what Redis considers equal -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "a", "b", "equal"),
    [
        ("maxmemory", "2gb", "2147483648", True),
        ("maxmemory", "2GB", "2gb", True),
        ("maxmemory", "1k", "1000", True),
        ("maxmemory", "1kb", "1024", True),
        ("maxmemory", "1kib", "1024", False),  # not a unit Redis knows
        ("maxmemory", "1.5gb", "1610612736", False),  # decimals are refused by Redis
        ("timeout", "1k", "1000", False),  # timeout is a plain integer, not a memory value
        ("appendonly", "YES", "yes", True),
        ("maxmemory-policy", "NoEviction", "noeviction", True),
        ("dir", "/Data", "/data", False),
        (
            "client-output-buffer-limit slave",
            ("slave", "256mb", "64mb", "60"),
            ("replica", "268435456", "67108864", "60"),
            True,
        ),
        ("save", [("900", "1"), ("300", "10")], [("300", "10"), ("900", "1")], True),
        ("save", [("900", "1", "300", "10")], [("300", "10"), ("900", "1")], True),
        ("save", [("900", "1"), ("",)], [("",)], True),
    ],
)
def test_same_follows_redis_value_parsing(key: str, a: object, b: object, equal: bool) -> None:
    assert redis("").same(key, a, b) is equal


def test_parse_memory_units() -> None:
    assert [parse_memory(v) for v in ("100", "1b", "1k", "1KB", "3m", "3mb", "2g", "2Gb")] == [
        100,
        1,
        1000,
        1024,
        3_000_000,
        3 * 1024**2,
        2 * 1000**3,
        2 * 1024**3,
    ]
    assert [parse_memory(v) for v in ("1kib", "1.5gb", "-1", "gb", "")] == [None] * 5


# -- problems: lines Redis 7 refuses ---------------------------------------------------------


def test_refused_lines_are_problems_with_line_column_and_reason() -> None:
    doc = redis((FIXTURES / "refused-lines.conf").read_bytes())
    found = {(p.line, p.column): p.reason for p in doc.problems}
    assert set(found) == {(2, 11), (4, 18), (5, 13), (6, 1), (8, 6), (9, 5), (10, 1)}
    assert "wrong number of arguments" in found[2, 11] and "'#'" in found[2, 11]
    assert "closing quote" in found[4, 18]
    assert "unbalanced quotes" in found[5, 13]
    assert "unknown directive 'vm-enabled'" in found[6, 1]
    assert "same user" in found[8, 6]
    assert "pairs" in found[9, 5]
    assert "loadmodule" in found[10, 1]
    # refused lines are kept byte for byte but are not settings
    assert doc.settings() == {
        "port": "6379",
        "maxmemory-policy": "noeviction",
        "user": [("alice", "on", ">secret1", "~*", "+@all")],
    }
    assert doc.dump() == (FIXTURES / "refused-lines.conf").read_bytes()


def test_module_options_are_fine_with_a_loadmodule_line() -> None:
    doc = redis("loadmodule /usr/lib/redis/modules/redisearch.so\nsearch.timeout 500 ms\n")
    assert doc.problems == []
    assert doc.settings()["search.timeout"] == "500 ms"


def test_known_directive_table_covers_redis_7() -> None:
    assert {
        "timeout",
        "tcp-keepalive",
        "maxmemory-policy",
        "slaveof",
        "hash-max-ziplist-value",
        "include",
        "sentinel",
        "lua-replicate-commands",
    } <= KNOWN_DIRECTIVES
    assert "vm-enabled" not in KNOWN_DIRECTIVES
    assert {"requirepass", "masterauth", "tls-key-file-pass"} <= SECRET_DIRECTIVES


REDIS_SERVER = shutil.which("redis-server")


def redis_server_refuses(tmp_path: Path, text: str) -> bool:
    """Whether the real redis-server (7.0.15 on Debian 12) refuses a config file."""
    conf = tmp_path / "case.conf"
    conf.write_text(text)
    run = subprocess.run(
        [
            REDIS_SERVER or "redis-server",
            str(conf),
            "--port",
            "0",
            "--daemonize",
            "no",
            "--dir",
            str(tmp_path),
            "--logfile",
            str(tmp_path / "log"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
    )
    refused = "FATAL CONFIG FILE ERROR" in run.stderr
    assert refused or "not listen anywhere" in (tmp_path / "log").read_text()
    return refused


DIFFERENTIAL_CASES = [
    "timeout 0",
    "timeout 0 # never",
    "TIMEOUT 5",
    "timeout",
    "timeout 1 2",
    'timeout "5"',
    'timeout "5"x',
    "timeout '5",
    "  timeout 5  ",
    "\ttimeout\t5\r",
    "   # timeout 5 6",
    'requirepass "a b"',
    "requirepass 'it\\'s'",
    'requirepass "x\\"y" z',
    "save 900 1",
    "save 900",
    'save ""',
    "save 900 1 300 10",
    "slaveof 127.0.0.1 6380",
    "slaveof 127.0.0.1",
    "bind 127.0.0.1 ::1",
    "list-max-ziplist-entries 5",
    "list-max-ziplist-entries 5 6",
    "hash-max-ziplist-entries 5",
    "vm-enabled no",
    "user a on >x\nuser a off",
    "user a on >x # admin",
    "user a on #" + "a" * 64,
    "sentinel monitor m 127.0.0.1 6379 2",
    "client-output-buffer-limit normal 0 0 0",
    "client-output-buffer-limit normal 0 0",
    "oom-score-adj-values 0 200 800",
    "oom-score-adj-values 0 200",
    'rename-command CONFIG ""',
    "rename-command CONFIG",
    "maxmemory 2gb",
    'proc-title-template "{title} {listen-addr}"',
    "notify-keyspace-events ''",
    "lua-replicate-commands yes",
    "latency-tracking-info-percentiles 50 99 99.9",
    "search.timeout",
]


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
@pytest.mark.parametrize("text", DIFFERENTIAL_CASES)
def test_problems_match_redis_server(tmp_path: Path, text: str) -> None:
    doc = redis_conf.parse(text.encode() + b"\n", "redis.conf", flavor="server")
    assert bool(doc.problems) == redis_server_refuses(tmp_path, text + "\n")


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(['"', "'", "\\", "a", " ", "b", "#", "\\'", '\\"']), min_size=1, max_size=8
    ).map("".join)
)
def test_quoting_problems_match_redis_server(tmp_path: Path, value: str) -> None:
    text = f"requirepass {value}\n"
    assert bool(redis(text).problems) == redis_server_refuses(tmp_path, text)


# -- edits -----------------------------------------------------------------------------------


def test_set_edits_only_the_value_bytes() -> None:
    doc = redis("\tTimeout\t\t300   \nport 6379\n")
    edit = doc.set("timeout", "0")
    assert doc.dump() == b"\tTimeout\t\t0   \nport 6379\n"
    assert edit.lines == (1, 1) and edit.note == ""


def test_set_edits_the_effective_line_and_says_so() -> None:
    doc = redis("timeout 10\nport 6379\ntimeout 20\n")
    edit = doc.set("timeout", "0")
    assert doc.dump() == b"timeout 10\nport 6379\ntimeout 0\n"
    assert edit.note == "defined twice (lines 1 and 3): edited the effective one, line 3"


def test_set_quotes_values_the_redis_way() -> None:
    doc = redis("requirepass old\n")
    doc.set("requirepass", 'new "pass" #1')
    doc.set("proc-title-template", "{title} {port}")
    doc.set("bind", "10.0.0.1 ::1")  # a multi-argument directive: words are arguments
    doc.set("notify-keyspace-events", "")
    assert doc.dump().decode().splitlines()[0] == 'requirepass "new \\"pass\\" #1"'
    assert doc.settings()["requirepass"] == 'new "pass" #1'
    assert doc.settings()["proc-title-template"] == "{title} {port}"
    assert doc.settings()["bind"] == "10.0.0.1 ::1"
    assert 'notify-keyspace-events ""' in doc.dump().decode()


def test_set_on_a_refused_line_appends_and_leaves_it_alone() -> None:
    doc = redis("timeout 300 # was 0\n")
    edit = doc.set("timeout", "0")
    assert doc.dump().decode().startswith("timeout 300 # was 0\n# BEGIN")
    assert (
        edit.note == "timeout on line 1 is left as it is (see problems)" and len(doc.problems) == 1
    )


def test_set_repeatable_list_keeps_equal_lines_and_edits_the_rest_in_place() -> None:
    doc = redis("save 900 1\nport 1\nsave 300 10\nsave 60 10000\n")
    edit = doc.set("save", [("900", "1"), ("120", "50")])
    assert doc.dump() == b"save 900 1\nport 1\nsave 120 50\n"
    assert edit.note == "removed line 4"
    doc.set("save", [("",)])
    assert doc.settings()["save"] == [("",)]
    doc.set("save", "3600 1 300 100")  # one line given as a string
    assert doc.dump() == b"save 3600 1 300 100\nport 1\n"


def test_set_one_user_leaves_the_other_users_alone() -> None:
    doc = redis("port 6379\nuser alice on >a ~* +@all\nuser bob on >b ~* +@read\n")
    doc.set("user bob", ("bob", "off"))
    doc.set("user carol", "carol on >c ~q:* +@all")
    assert doc.dump() == (
        b"port 6379\nuser alice on >a ~* +@all\nuser bob off\n"
        b"# BEGIN remediate managed settings\nuser carol on >c ~q:* +@all\n"
        b"# END remediate managed settings\n"
    )
    with pytest.raises(ValueError):
        doc.set("user bob", ("alice", "off"))


def test_acl_files_get_plain_lines_appended() -> None:
    doc = redis("user default on nopass ~* +@all", "users.acl")
    doc.set("user worker", ("worker", "on", ">pw", "~celery*", "+@all"))
    assert doc.dump() == b"user default on nopass ~* +@all\nuser worker on >pw ~celery* +@all\n"
    with pytest.raises(ValueError):
        doc.set("user x", ("x", "on", ">two words"))


def test_set_refuses_a_directive_redis_does_not_know() -> None:
    doc = redis("port 6379\n")
    with pytest.raises(ValueError, match="vm-enabled"):
        doc.set("vm-enabled", "no")
    doc.set("search.timeout", "500")  # module options are for the loaded module to judge
    assert doc.problems[0].reason.startswith("module option search.timeout without")


def test_remove_deletes_every_definition() -> None:
    doc = redis("timeout 1\nport 2\ntimeout 3\n")
    edit = doc.remove("timeout")
    assert doc.dump() == b"port 2\n" and edit is not None and "lines 1 and 3" in edit.note
    assert doc.remove("timeout") is None


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20))
def test_set_then_settings_gives_the_value_back(value: str) -> None:
    doc = redis("# c\nrequirepass old\nport 6379\n")
    doc.set("requirepass", value)
    assert doc.settings()["requirepass"] == value and doc.problems == []
    lines = doc.dump().decode("utf-8", "surrogateescape").split("\n")
    assert lines[0] == "# c" and lines[2] == "port 6379"


EDITS = [
    ("timeout", "0"),
    ("timeout", "300"),
    ("maxmemory", "2gb"),
    ("slaveof", "10.0.0.2 6380"),
    ("save", [("900", "1"), ("300", "10")]),
    ("save", [("",)]),
    ("user alice", ("alice", "on", ">pw", "~*")),
    ("user bob", ("bob", "off")),
    ("client-output-buffer-limit pubsub", ("pubsub", "1mb", "1mb", "0")),
    ("rename-command", [("FLUSHALL", ""), ("CONFIG", "cfg")]),
    ("requirepass", "a b#c"),
]
BASES = [
    "port 6379\ntimeout 10\n# c\ntimeout 20\nsave 60 1\nuser alice on >x\n",
    "port 6379\r\ntimeout 10\r\nsave 60 1\r\nsave 120 5",
    "port 1\n# BEGIN remediate managed settings\nmaxmemory 1mb\n# END remediate managed settings\n",
    "",
]


@given(
    st.sampled_from(BASES), st.lists(st.tuples(st.sampled_from(EDITS), st.booleans()), max_size=8)
)
def test_edits_keep_the_document_equal_to_a_fresh_parse(
    base: str, edits: list[tuple[tuple[str, object], bool]]
) -> None:
    doc = redis(base)
    for (key, value), remove in edits:
        if remove:
            doc.remove(key)
            assert doc.current(key) is ABSENT
        else:
            doc.set(key, value)
            assert doc.same(key, doc.current(key), value)
        fresh = redis(doc.dump())
        assert fresh.settings() == doc.settings()
        assert fresh.problems == doc.problems
        assert list(fresh.managed_items()) == list(doc.managed_items())
    assert doc.dump().count(MANAGED_BEGIN.encode()) <= 1


def test_secrets_are_listed_for_masking() -> None:
    doc = redis(
        'requirepass "s3 cret"\nmasterauth m4ster\nuser app on >apppw <old #'
        + "b" * 64
        + ' ~*\nsentinel auth-pass mymaster sentpw\nrequirepass "broken\n',
        "sentinel.conf",
    )
    assert doc.secrets() == [
        "s3 cret",
        "m4ster",
        "apppw",
        "old",
        "b" * 64,
        "sentpw",
        '"broken',
        "broken",
    ]


# -- merge: the seed fix -------------------------------------------------------------------------

EXPECTED_DEBIAN_DIFF = """\
--- a/redis.conf
+++ b/redis.conf
@@ -156,7 +156,7 @@
 # unixsocketperm 700
 
 # Close the connection after a client is idle for N seconds (0 to disable)
-timeout 300
+timeout 0
 
 # TCP keepalive.
 #
@@ -173,7 +173,7 @@
 #
 # A reasonable value for this option is 300 seconds, which is the new
 # Redis default starting with Redis 3.2.1.
-tcp-keepalive 0
+tcp-keepalive 60
 
 # Apply OS-specific mechanism to mark the listening socket with the specified
 # ID, to support advanced routing and filtering capabilities.
"""


def test_seed_fix_merged_into_drifted_debian_file() -> None:
    live_bytes = (FIXTURES / "debian-redis-drifted.conf").read_bytes()
    live = redis(live_bytes, "/etc/redis/redis.conf")
    new, changes = merge(live, redis(SEED, "redis.conf.j2"))
    assert unified("redis.conf", live_bytes, new.dump()) == EXPECTED_DEBIAN_DIFF
    assert [(c.setting, c.old, c.new, c.lines) for c in changes] == [
        ("timeout", "300", "0", (159, 159)),
        ("tcp-keepalive", "0", "60", (176, 176)),
    ]
    assert new.dump() == (FIXTURES / "debian-redis.conf").read_bytes().replace(
        b"\ntcp-keepalive 300\n", b"\ntcp-keepalive 60\n"
    )
    again, no_changes = merge(new, redis(SEED))
    assert no_changes == [] and again.dump() == new.dump()


def test_seed_fix_appends_missing_keepalive_in_one_managed_block() -> None:
    live_bytes = (FIXTURES / "missing-keepalive.conf").read_bytes()
    new, changes = merge(redis(live_bytes), redis(SEED))
    assert (
        unified("redis.conf", live_bytes, new.dump())
        == """\
--- a/redis.conf
+++ b/redis.conf
@@ -1,5 +1,8 @@
 # minimal server config
 bind 127.0.0.1
 port 6379
-timeout 300
+timeout 0
 databases 16
+# BEGIN remediate managed settings
+tcp-keepalive 60
+# END remediate managed settings
"""
    )
    assert [(c.setting, c.old, c.lines) for c in changes] == [
        ("timeout", "300", (4, 4)),
        ("tcp-keepalive", ABSENT, (7, 7)),
    ]
    assert merge(new, redis(SEED))[1] == []
    newer, more = merge(new, redis("maxmemory-policy noeviction\ntcp-keepalive 30\n"))
    text = newer.dump().decode()
    assert text.count(MANAGED_BEGIN) == 1 and text.count(MANAGED_END) == 1
    assert text.endswith(
        "tcp-keepalive 30\nmaxmemory-policy noeviction\n# END remediate managed settings\n"
    )
    assert [(c.setting, c.lines) for c in more] == [
        ("maxmemory-policy", (8, 8)),
        ("tcp-keepalive", (7, 7)),
    ]


def test_merge_keeps_crlf_and_adds_the_missing_final_newline() -> None:
    crlf = redis((FIXTURES / "crlf-drifted.conf").read_bytes())
    new, _ = merge(crlf, redis(SEED))
    assert new.dump().endswith(
        b"save 300 10\r\n# BEGIN remediate managed settings\r\n"
        b"tcp-keepalive 60\r\n# END remediate managed settings\r\n"
    )
    assert b"\ntimeout 0\r\n" in new.dump() and b"\n" not in new.dump().replace(b"\r\n", b"")
    bare = redis((FIXTURES / "no-final-newline.conf").read_bytes())
    new, changes = merge(bare, redis("tcp-keepalive 60\nmaxclients 4096\n"))
    assert new.dump() == (
        b"daemonize no\nport 6380\ntimeout 0\ntcp-keepalive 60\n"
        b"# BEGIN remediate managed settings\nmaxclients 4096\n"
        b"# END remediate managed settings\n"
    )
    assert [c.lines for c in changes] == [(4, 4), (6, 6)]


def test_merge_of_one_buffer_class_leaves_the_others() -> None:
    live = redis(
        "client-output-buffer-limit normal 0 0 0\n"
        "client-output-buffer-limit replica 256mb 64mb 60\n"
        "client-output-buffer-limit pubsub 32mb 8mb 60\n"
    )
    new, changes = merge(
        live,
        redis(
            "client-output-buffer-limit pubsub 64mb 16mb 90\n"
            "client-output-buffer-limit slave 268435456 64mb 60\n"
        ),
    )
    assert [c.setting for c in changes] == ["client-output-buffer-limit pubsub"]
    assert new.dump() == (
        b"client-output-buffer-limit normal 0 0 0\n"
        b"client-output-buffer-limit replica 256mb 64mb 60\n"
        b"client-output-buffer-limit pubsub 64mb 16mb 90\n"
    )


def test_merge_equal_memory_and_case_is_no_change() -> None:
    live = redis("maxmemory 2gb\nappendonly YES\n")
    assert merge(live, redis("maxmemory 2147483648\nappendonly yes\n"))[1] == []


def test_settings_follow_every_edit_and_callers_cannot_change_them() -> None:
    doc = parse("redis", b"timeout 300\nsave 900 1\nsave 300 10\n", "redis.conf")
    first = doc.settings()
    first["timeout"] = "mutated by a caller"
    assert doc.settings()["timeout"] == "300"
    doc.set("timeout", "0")
    doc.remove("save")
    assert doc.settings()["timeout"] == "0" and "save" not in doc.settings()
    doc.set("tcp-keepalive", "60")
    assert doc.settings()["tcp-keepalive"] == "60"
