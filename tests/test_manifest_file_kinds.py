"""`helm-values` and `compose-file`: a Helm values file and a docker-compose file as managed file
kinds. The redis.conf / rabbitmq.conf text they embed is merged with the lossless formats and
every other byte of the YAML is kept; `plan` shows the pull-request-ready diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from remediate.errors import ParseError
from remediate.formats import merge, parse
from remediate.rules import check
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
VALUES = (FIXTURES / "values-redis.yaml").read_bytes()
COMPOSE = (FIXTURES / "docker-compose.yml").read_bytes()
TEMPLATE = b"master:\n  configuration: |\n    timeout 0\n    tcp-keepalive 60\n"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("helm-values", "values-redis.yaml"),
        ("helm-values", "values-rabbitmq.yaml"),
        ("helm-values", "values-redis-ha.yaml"),
        ("compose-file", "docker-compose.yml"),
    ],
)
def test_fixture_round_trips_byte_for_byte(kind: str, name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert parse(kind, data, name).dump() == data


def test_values_merge_edits_the_block_and_keeps_every_other_byte() -> None:
    live = parse("helm-values", VALUES, "values.yaml")
    assert live.settings()["master.configuration:timeout"] == "300"
    new, changes = merge(live, parse("helm-values", TEMPLATE, "template"))
    assert [(c.setting, c.old, c.new) for c in changes] == [
        ("master.configuration:timeout", "300", "0"),
        ("master.configuration:tcp-keepalive", changes[1].old, "60"),
    ]
    out = new.dump()
    before, after = VALUES.splitlines(keepends=True), out.splitlines(keepends=True)
    edited = before.index(b"    timeout 300\n")
    assert after[:edited] == before[:edited]
    assert after[edited] == b"    timeout 0\n"
    added = after[edited + 1 : edited + 4]
    assert b"    tcp-keepalive 60\n" in added
    assert after[edited + 4 :] == before[edited + 1 :]
    values = yaml.safe_load(out)
    merged = parse("redis", values["master"]["configuration"].encode(), "master.conf")
    assert merged.settings()["timeout"] == "0"
    assert merged.settings()["tcp-keepalive"] == "60"
    assert values["commonConfiguration"] == yaml.safe_load(VALUES)["commonConfiguration"]
    assert changes[0].lines == (17, 17)


def test_values_without_the_document_get_a_new_literal_block_in_its_mapping() -> None:
    data = VALUES.replace(
        b"  configuration: |\n    maxmemory 1gb\n    maxmemory-policy allkeys-lru\n"
        b"    timeout 300\n",
        b"",
    )
    new, changes = merge(parse("helm-values", data, "v.yaml"), parse("helm-values", TEMPLATE, "t"))
    values = yaml.safe_load(new.dump())
    assert values["master"]["persistence"] == {"enabled": True}
    embedded = parse("redis", values["master"]["configuration"].encode(), "master.conf")
    assert embedded.settings() == {"timeout": "0", "tcp-keepalive": "60"}
    after = new.dump().splitlines(keepends=True)
    at = after.index(b"  configuration: |\n")
    assert after[at - 2 : at] == [b"  persistence:\n", b"    enabled: true\n"]
    assert after[at + 1] == b"    timeout 0\n" and after[at + 5] == b"replica:\n"
    assert b"".join(after[:at] + after[at + 5 :]) == data
    assert changes[0].lines == (at + 2, at + 2)


def test_a_quoted_embedded_document_is_read_but_not_edited() -> None:
    data = b'master:\n  configuration: "timeout 300\\n"\n'
    live = parse("helm-values", data, "v.yaml")
    assert live.settings() == {"master.configuration:timeout": "300"}
    with pytest.raises(ParseError, match="literal block") as err:
        merge(live, parse("helm-values", TEMPLATE, "t"))
    assert err.value.line == 2


def test_rules_judge_the_embedded_documents_at_the_manifest_lines() -> None:
    found = {(f.rule, f.line, f.suppressed) for f in check(parse("helm-values", VALUES, "v"))}
    assert ("RDS001", 17, False) in found  # master: timeout 300
    assert ("RDS001", 25, True) in found  # replica: suppressed inside its block
    assert ("RDS002", 11, False) in found  # commonConfiguration: tcp-keepalive 0
    fixed, _ = merge(
        parse("helm-values", VALUES, "v"),
        parse(
            "helm-values",
            b"commonConfiguration: |\n  tcp-keepalive 60\n" + TEMPLATE,
            "t",
        ),
    )
    left = {f.rule for f in check(fixed) if not f.suppressed}
    assert not left & {"RDS001", "RDS002"}, left


def test_compose_string_command_edits_the_value_word_and_appends_an_option() -> None:
    template = b"services:\n  redis:\n    command: redis-server --timeout 0 --tcp-keepalive 60\n"
    data = COMPOSE.replace(b"--tcp-keepalive 0", b"--save 60 1")
    new, changes = merge(parse("compose-file", data, "c"), parse("compose-file", template, "t"))
    assert new.dump() == data.replace(
        b"--timeout 300 --save 60 1", b"--timeout 0 --save 60 1 --tcp-keepalive 60"
    )
    assert [c.setting for c in changes] == [
        "services.redis.command:timeout",
        "services.redis.command:tcp-keepalive",
    ]
    command = yaml.safe_load(new.dump())["services"]["redis"]["command"]
    assert command == "redis-server --appendonly yes --timeout 0 --save 60 1 --tcp-keepalive 60"


def test_compose_list_command_edits_items_and_appends_new_ones() -> None:
    template = (
        b"services:\n  cache:\n    command: [redis-server, --maxmemory, 512mb, --timeout, '0']\n"
    )
    new, _ = merge(parse("compose-file", COMPOSE, "c"), parse("compose-file", template, "t"))
    assert new.dump() == COMPOSE.replace(b"      - 256mb\n", b"      - 512mb\n").replace(
        b"      - allkeys-lru\n", b'      - allkeys-lru\n      - --timeout\n      - "0"\n'
    )
    assert yaml.safe_load(new.dump())["services"]["cache"]["command"][-2:] == ["--timeout", "0"]
    flow = b'services:\n  r:\n    command: ["redis-server", "--timeout", "300"]  # pinned\n'
    new, _ = merge(
        parse("compose-file", flow, "f"),
        parse(
            "compose-file",
            b"services:\n  r:\n    command: redis-server --timeout 0 --tcp-keepalive 60\n",
            "t",
        ),
    )
    assert new.dump() == (
        b'services:\n  r:\n    command: ["redis-server", "--timeout", "0", '
        b'"--tcp-keepalive", "60"]  # pinned\n'
    )


def test_compose_service_without_a_redis_command_is_refused() -> None:
    template = b"services:\n  worker2:\n    command: redis-server --timeout 0\n"
    with pytest.raises(ParseError, match="no `redis-server` command"):
        merge(parse("compose-file", COMPOSE, "c"), parse("compose-file", template, "t"))


def test_plan_on_a_local_host_shows_the_values_file_diff(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "values.yaml").write_bytes(VALUES)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "values.yaml.j2").write_bytes(
        b"master:\n  configuration: |\n    timeout {{ redis_timeout }}\n    tcp-keepalive 60\n"
    )
    (tmp_path / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "gitops": {"ansible_connection": "local", "remediate_root": str(root)}
                    }
                }
            }
        )
    )
    (tmp_path / "site.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "chart values",
                    "hosts": "all",
                    "vars": {"redis_timeout": 0},
                    "files": [
                        {
                            "kind": "helm-values",
                            "path": "/deploy/values.yaml",
                            "template": "values.yaml.j2",
                        }
                    ],
                }
            ]
        )
    )
    result = run_cli(
        "--no-color",
        "plan",
        "-i",
        str(tmp_path / "hosts.yml"),
        "-p",
        str(tmp_path / "site.yml"),
        "--templates",
        str(tmp_path / "templates"),
        cwd=tmp_path,
        env={**os.environ, "REMEDIATE_SHARED": os.environ.get("REMEDIATE_SHARED", "")},
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "-    timeout 300" in out and "+    timeout 0" in out, out
    assert "+    tcp-keepalive 60" in out, out
    assert "master.configuration:timeout" in out and "RDS001" in out, out
    assert (root / "deploy" / "values.yaml").read_bytes() == VALUES  # plan writes nothing
