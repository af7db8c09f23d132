"""rabbitmq.conf: lossless round trip, cuttlefish semantics, parse errors, edits, merge."""

from __future__ import annotations

import difflib
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.errors import ParseError
from remediate.formats import ABSENT, merge, parse
from remediate.formats.base import MANAGED_BEGIN
from remediate.formats.rabbitmq_conf import RabbitmqDocument, is_secret_key
from tests.paths import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "corpus"
FIXTURES = ROOT / "tests" / "fixtures" / "rabbitmq"
SEED = b"heartbeat = 60\n"


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def rabbit(text: str | bytes, path: str = "rabbitmq.conf") -> RabbitmqDocument:
    doc = parse("rabbitmq", text.encode() if isinstance(text, str) else text, path)
    assert isinstance(doc, RabbitmqDocument)
    return doc


def unified(name: str, before: bytes, after: bytes) -> str:
    """A unified diff like GNU diff's, "\\ No newline at end of file" included."""
    old = before.decode().splitlines(keepends=True)
    new = after.decode().splitlines(keepends=True)
    out = []
    for line in difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# -- round trips and parse errors ----------------------------------------------------------


@pytest.mark.parametrize("path", files(CORPUS / "rabbitmq"), ids=lambda p: p.name)
def test_corpus_file_round_trips_without_problems(path: Path) -> None:
    data = path.read_bytes()
    doc = rabbit(data, str(path))
    assert doc.dump() == data
    assert doc.problems == []


TEMPLATED_OUTCOME = {
    "galaxyproject__ansible-role-rabbitmq__rabbitmq.conf.j2": 4,  # {% macro ... %}
    "mrmilu__ansible-role-rabbitmq__rabbitmq.config.j2": None,  # log.dir = {{ x }} is a value
    "openstack__openstack-ansible-rabbitmq_server__rabbitmq.conf.j2": 4,  # {% for ... %}
}


@pytest.mark.parametrize("path", files(CORPUS / "templated" / "rabbitmq"), ids=lambda p: p.name)
def test_templated_file_round_trips_or_fails_with_one_parse_error(path: Path) -> None:
    data = path.read_bytes()
    try:
        doc = rabbit(data, str(path))
    except ParseError as error:  # the only exception type allowed
        assert (error.path, error.line) == (str(path), TEMPLATED_OUTCOME[path.name])
        assert str(error).startswith(f"{path}:{error.line}:1: not a 'key = value'")
        assert error.column == 1
        return
    assert TEMPLATED_OUTCOME[path.name] is None
    assert doc.dump() == data


@pytest.mark.parametrize("path", files(FIXTURES), ids=lambda p: p.name)
def test_fixture_round_trips_or_is_the_refused_one(path: Path) -> None:
    data = path.read_bytes()
    if path.name == "refused.conf":
        with pytest.raises(ParseError) as caught:
            rabbit(data, str(path))
        assert (caught.value.path, caught.value.line) == (str(path), 3)
        return
    assert rabbit(data, str(path)).dump() == data


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("heartbeat = 60\nconsumer_timeout 1800000\n", 2, "not a 'key = value' setting"),
        ("heartbeat: 60\n", 1, "not a 'key = value' setting"),
        ("{{ key }} = 60\n", 1, "the key before '='"),
        ("heart beat = 60\n", 1, "the key before '='"),
        ("a..b = 1\n", 1, "the key before '='"),
        ("heartbeat =\n", 1, "no value after '=' for heartbeat"),
        ("heartbeat = # sixty\n", 1, "no value after '='"),
        ("heartbeat = 60\n \r \n", 2, "not a 'key = value' setting"),
        ("include conf.d/*.conf  \n", 1, "not a 'key = value' setting"),
        ("# caf\xe9\n", 1, "not UTF-8"),
    ],
)
def test_what_cuttlefish_refuses_is_one_parse_error(text: str, line: int, reason: str) -> None:
    data = text.encode("latin-1") if "\xe9" in text else text.encode()
    with pytest.raises(ParseError) as caught:
        rabbit(data, "/etc/rabbitmq/rabbitmq.conf")
    assert (caught.value.path, caught.value.line) == ("/etc/rabbitmq/rabbitmq.conf", line)
    assert reason in caught.value.message
    assert str(caught.value).startswith(f"/etc/rabbitmq/rabbitmq.conf:{line}:")


@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "b.c",
                " ",
                "\t",
                "=",
                "#",
                "'",
                "\n",
                "\r\n",
                "1",
                "é",
                "include",
                "x_y",
                "-",
                "\r",
                "\\.",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_any_text_parses_and_round_trips_or_raises_parse_error(text: str) -> None:
    data = text.encode()
    try:
        doc = rabbit(data)
    except ParseError as error:
        assert error.line is not None and 1 <= error.line <= text.count("\n") + 1
        return
    assert doc.dump() == data


KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z0-9_-]{1,6}){0,3}", fullmatch=True)
VALUES = st.from_regex(r"[^\s#'][^\n\r#]{0,15}", fullmatch=True).map(str.strip).filter(bool)


@given(
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.sampled_from([" = ", "=", "\t=  "]),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_generated_settings_round_trip(
    settings: dict[str, str], equals: str, newline: str, final: bool
) -> None:
    text = newline.join(f"{key}{equals}{value}" for key, value in settings.items())
    data = (text + (newline if final and text else "")).encode()
    doc = rabbit(data)
    assert doc.dump() == data
    assert doc.settings() == settings


# -- settings() semantics -------------------------------------------------------------------


def test_settings_follow_cuttlefish() -> None:
    doc = rabbit((FIXTURES / "drifted.conf").read_bytes())
    assert doc.settings() == {
        "listeners.tcp.default": "5672",
        "heartbeat": "0",  # the comment is not part of the value
        "consumer_timeout": "1800000",
        "cluster_formation.peer_discovery_backend": "classic_config",
        "cluster_formation.classic_config.nodes.1": "rabbit@mq1",
        "cluster_formation.classic_config.nodes.2": "rabbit@mq2",
        "default_user": "celery",
        "default_pass": "x9#Lq!2w",  # in single quotes '#' is part of the value
        "tcp_listen_options.keepalive": "false",
    }
    tabs = rabbit((FIXTURES / "tabs-utf8.conf").read_bytes())
    assert tabs.settings() == {
        "heartbeat": "45",
        "cluster_name": "café-cluster",
        "log.file.level": "info",
    }
    assert tabs.line_of("heartbeat") == 5 and tabs.current("heartbeat") == "45"
    assert tabs.current("consumer_timeout") is ABSENT


def test_value_details() -> None:
    doc = rabbit(
        "a=1#c\n b \t= x y  # c\nc = $(SEED_PASSWORD)\nd = ''\n"
        "include /etc/rabbitmq/conf.d/*.conf # more\ninclude = 3\ne\\.f = 1\n"
    )
    assert doc.settings() == {
        "a": "1",
        "b": "x y",
        "c": "$(SEED_PASSWORD)",
        "d": "",
        "include": "3",
        "e\\.f": "1",
    }
    assert doc.includes() == ["/etc/rabbitmq/conf.d/*.conf"]


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("default_pass = 'a#b' # admin\n", 22, "must not be followed by a comment"),
        ("default_pass = 'a#b' x\n", 22, "text after the closing quote"),
        ("default_pass = 'a#b\n", 16, "never closed"),
        ("heartbeat = 60  ", 15, "cuttlefish keeps them in the value"),
    ],
)
def test_lines_rabbitmq_may_misread_are_problems(text: str, column: int, reason: str) -> None:
    doc = rabbit("log.file.level = info\n" + text)
    assert [(p.line, p.column) for p in doc.problems] == [(2, column)]
    assert reason in doc.problems[0].reason
    assert doc.settings() == {"log.file.level": "info"}
    assert doc.dump() == ("log.file.level = info\n" + text).encode()


def test_trailing_blanks_before_a_line_break_are_not_part_of_the_value() -> None:
    assert rabbit("heartbeat = 60  \n").settings() == {"heartbeat": "60"}


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("default_pass", True),
        ("mqtt.default_pass", True),
        ("ssl_options.password", True),
        ("auth_ldap.dn_lookup_bind.password", True),
        ("auth_oauth2.client_secret", True),
        ("cluster_formation.aws.secret_key", True),
        ("cluster_formation.consul.acl_token", True),
        ("password_hashing_module", False),
        ("ssl_options.keyfile", False),
        ("default_user", False),
    ],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_secrets_lists_values_for_masking() -> None:
    doc = rabbit((FIXTURES / "drifted.conf").read_bytes() + b"ssl_options.password = k3y\n")
    assert doc.secrets() == ["x9#Lq!2w", "k3y"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("60", "60", True),
        ("60", 60, True),
        ("060", "60", True),
        ("False", "false", True),
        ("true", True, True),
        ("60", "6O", False),
        ("/etc/a", "/etc/A", False),
    ],
)
def test_same(a: object, b: object, same: bool) -> None:
    assert rabbit("").same("heartbeat", a, b) is same


# -- edits -----------------------------------------------------------------------------------


def test_set_keeps_spacing_and_trailing_comment() -> None:
    doc = rabbit("heartbeat\t=  0   # disabled\n")
    edit = doc.set("heartbeat", 60)
    assert doc.dump() == b"heartbeat\t=  60   # disabled\n"
    assert edit.lines == (1, 1) and edit.note == ""


def test_set_edits_the_last_definition_and_says_so() -> None:
    doc = rabbit((FIXTURES / "tabs-utf8.conf").read_bytes())
    edit = doc.set("heartbeat", "60")
    assert doc.dump().decode().splitlines()[1:5] == [
        "heartbeat\t=\t30",
        "cluster_name\t= café-cluster\t# nom du cluster",
        "\t# commentaire indenté",
        "heartbeat = 60",
    ]
    assert edit.note == "defined twice (lines 2 and 5): edited the effective one, line 5"


def test_set_quotes_when_cuttlefish_needs_it() -> None:
    doc = rabbit("default_pass = 'old'\n")
    doc.set("default_pass", "plain")  # an already quoted value stays quoted
    doc.set("default_user", "ad#min")
    doc.set("cluster_name", " padded ")
    assert doc.dump() == (
        b"default_pass = 'plain'\n# BEGIN remediate managed settings\n"
        b"default_user = 'ad#min'\ncluster_name = ' padded '\n"
        b"# END remediate managed settings\n"
    )
    assert doc.settings()["cluster_name"] == " padded "
    with pytest.raises(ValueError):
        doc.set("default_user", "it's #1")
    with pytest.raises(ValueError):
        doc.set("not a key", "1")


RABBIT_EDITS = [
    ("heartbeat", "60"),
    ("heartbeat", 0),
    ("default_pass", "a#b"),
    ("cluster_name", "c1"),
    ("consumer_timeout", 3600000),
    ("x.y.1", " z "),
]
RABBIT_BASES = [
    "heartbeat = 0 # off\nx = 1\nheartbeat = 5\n",
    "a = 1\r\nb = 2",
    "",
    ("default_pass = 'q'\n# BEGIN remediate managed settings\n# END remediate managed settings\n"),
]


@given(
    st.sampled_from(RABBIT_BASES),
    st.lists(st.tuples(st.sampled_from(RABBIT_EDITS), st.booleans()), max_size=8),
)
def test_edits_keep_the_document_equal_to_a_fresh_parse(
    base: str, edits: list[tuple[tuple[str, object], bool]]
) -> None:
    doc = rabbit(base)
    for (key, value), remove in edits:
        if remove:
            doc.remove(key)
            assert doc.current(key) is ABSENT
        else:
            doc.set(key, value)
            assert doc.same(key, doc.current(key), value)
        fresh = rabbit(doc.dump())
        assert fresh.settings() == doc.settings() and fresh.problems == doc.problems


def test_remove() -> None:
    doc = rabbit("heartbeat = 1\nx = 2\nheartbeat = 3\n")
    edit = doc.remove("heartbeat")
    assert doc.dump() == b"x = 2\n" and edit is not None and doc.remove("heartbeat") is None


# -- merge: the seed fix -----------------------------------------------------------------------


def test_seed_fix_edits_the_drifted_heartbeat_in_place() -> None:
    live_bytes = (FIXTURES / "drifted.conf").read_bytes()
    new, changes = merge(rabbit(live_bytes), rabbit(SEED, "rabbitmq.conf.j2"))
    assert (
        unified("rabbitmq.conf", live_bytes, new.dump())
        == """\
--- a/rabbitmq.conf
+++ b/rabbitmq.conf
@@ -1,6 +1,6 @@
 # RabbitMQ broker for the Celery workers
 listeners.tcp.default = 5672
-heartbeat = 0 # disabled during the 2019 incident
+heartbeat = 60 # disabled during the 2019 incident
 consumer_timeout = 1800000
 
 cluster_formation.peer_discovery_backend = classic_config
"""
    )
    assert [(c.setting, c.old, c.new, c.lines) for c in changes] == [
        ("heartbeat", "0", "60", (3, 3))
    ]
    assert merge(new, rabbit(SEED))[1] == []


def test_seed_fix_appended_to_the_upstream_example() -> None:
    path = CORPUS / "rabbitmq" / "rabbitmq__rabbitmq-server__rabbitmq.conf.example"
    live_bytes = path.read_bytes()
    new, changes = merge(rabbit(live_bytes, str(path)), rabbit(SEED))
    assert (
        unified("rabbitmq.conf", live_bytes, new.dump())
        == """\
--- a/rabbitmq.conf
+++ b/rabbitmq.conf
@@ -1000,3 +1000,6 @@
 ## {tag_queries, []}
 #   ]},
 # -----------------------------
+# BEGIN remediate managed settings
+heartbeat = 60
+# END remediate managed settings
"""
    )
    assert [(c.setting, c.old, c.lines) for c in changes] == [("heartbeat", ABSENT, (1004, 1004))]
    again, none = merge(new, rabbit(SEED + b"tcp_listen_options.keepalive = true\n"))
    assert [c.setting for c in none] == ["tcp_listen_options.keepalive"]
    text = again.dump().decode()
    assert text.count(MANAGED_BEGIN) == 1
    assert text.endswith(
        "heartbeat = 60\ntcp_listen_options.keepalive = true\n# END remediate managed settings\n"
    )


def test_seed_fix_on_crlf_file_without_final_newline() -> None:
    live_bytes = (FIXTURES / "crlf-no-final-newline.conf").read_bytes()
    new, changes = merge(rabbit(live_bytes), rabbit(SEED + b"consumer_timeout = 3600000\n"))
    assert new.dump() == (
        b"# Windows-edited\r\nlisteners.tcp.default   = 5672\r\nmanagement.tcp.port     = 15672\r\n"
        b"heartbeat               = 60\r\nvm_memory_high_watermark.relative = 0.6\r\n"
        b"# BEGIN remediate managed settings\r\nconsumer_timeout = 3600000\r\n"
        b"# END remediate managed settings\r\n"
    )
    assert [c.lines for c in changes] == [(4, 4), (7, 7)]


# -- differential: the real cuttlefish parser ----------------------------------------------------

CUTTLEFISH = sorted(
    Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins/cuttlefish-*/ebin")
)
ERLANG_SHOW = """
Hex = fun(B) -> binary:encode_hex(unicode:characters_to_binary(B)) end,
Show = fun(F) ->
    case conf_parse:file(F) of
        L when is_list(L) ->
            [case E of
                 {include, P} -> io:format("I ~s~n", [Hex(P)]);
                 {K, V} -> io:format("S ~s ~s~n", [Hex(lists:join(".", K)), Hex(V)])
             end || E <- L];
        {_, _, {{line, N}, _}} -> io:format("E ~p~n", [N])
    end,
    io:format("END~n")
end,
[Show(F) || F <- init:get_plain_arguments()],
halt().
"""


def cuttlefish_reads(tmp_path: Path, texts: list[str]) -> list[object]:
    """For each text: the error line, or the (key, value) settings cuttlefish reads."""
    paths = []
    for number, text in enumerate(texts):
        paths.append(tmp_path / f"{number}.conf")
        paths[-1].write_bytes(text.encode())
    run = subprocess.run(
        [
            "erl",
            "-noshell",
            "-pa",
            str(CUTTLEFISH[-1]),
            "-eval",
            ERLANG_SHOW,
            "-extra",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: list[object] = []
    current: list[tuple[str, str]] = []
    for line in run.stdout.splitlines():
        kind, *rest = line.split(" ")
        if kind == "END":
            results.append(current)
            current = []
        elif kind == "E":
            current = int(rest[0])  # type: ignore[assignment]
        elif kind == "S":
            current.append((bytes.fromhex(rest[0]).decode(), bytes.fromhex(rest[1]).decode()))
    return results


def ours(text: str) -> object:
    try:
        doc = rabbit(text)
    except ParseError as error:
        return error.line
    return [(doc.info[i].key, doc.info[i].value) for i in sorted(doc.info) if doc.info[i].key]


DIFFERENTIAL = [
    "a = 1\nnoequals\nb = 2\n",
    "a =\n",
    "a = # c\n",
    "a = 1   \n",
    "a.b-c_d = x y z\n",
    "a:b = 1\n",
    "{{ x }} = 1\n",
    "a = 1\r\nb = 2\r\n",
    "a=1#c\n",
    " \t a \t = \t 1 \t # c\n",
    "a = 1\rb = 2\n",
    "a..b = 1\n",
    ".a = 1\n",
    "a = 1 = 2\n",
    "include /etc/x.conf\n",
    "include conf.d/*.conf # c\n",
    "\t\t\n\n  # x\na = 1",
    "a = café\n",
    "a = 1\n \r \n",
    "cluster_formation.classic_config.nodes.1 = rabbit@mq1\n",
    "a = x\\y\n",
    'a = "q"\n',
]


@pytest.mark.skipif(
    not CUTTLEFISH or shutil.which("erl") is None, reason="needs RabbitMQ's cuttlefish and erl"
)
def test_parse_agrees_with_real_cuttlefish(tmp_path: Path) -> None:
    generator = random.Random(20240601)
    pieces = [
        "a",
        "b.c",
        "n.1",
        " ",
        "\t",
        "=",
        "#",
        "\n",
        "\r\n",
        "x y",
        "é",
        "include ",
        "-",
        "_",
        "\r",
        "/",
        "*",
        ".",
        "$(V)",
    ]
    generated = [
        "".join(generator.choice(pieces) for _ in range(generator.randint(1, 14)))
        for _ in range(300)
    ]
    texts = DIFFERENTIAL + [t for t in generated if "'" not in t]
    theirs = cuttlefish_reads(tmp_path, texts)
    disagreements = []
    for text, read in zip(texts, theirs, strict=True):
        mine = ours(text)
        doc_problems = not isinstance(mine, int) and bool(rabbit(text).problems)
        if mine != read and not doc_problems:
            disagreements.append((text, mine, read))
    assert disagreements == []
