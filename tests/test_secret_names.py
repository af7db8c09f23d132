"""Which names are secret is said in one place (model.secrets), and every layer asks it."""

from __future__ import annotations

import pytest

from remediate.formats import parse
from remediate.formats.rabbitmq_conf import is_secret_key
from remediate.formats.redis_directives import SECRET_DIRECTIVES
from remediate.model.facts import FileFact, HostFacts
from remediate.model.secrets import REDIS_SECRET_DIRECTIVES, Masker, is_secret_setting
from remediate.plan.planner import DesiredFile, plan_file
from remediate.playbook.schema import FileSpec


@pytest.mark.parametrize(
    ("kind", "name", "secret"),
    [
        ("redis", "requirepass", True),
        ("redis", "MasterAuth", True),
        ("redis", "user", True),
        ("redis", "timeout", False),
        ("rabbitmq", "default_pass", True),
        ("rabbitmq", "ssl_options.password", True),
        ("rabbitmq", "heartbeat", False),
        ("shell", "RABBITMQ_PASSWORD", True),
        ("celery", "broker_pool_limit", False),
    ],
)
def test_one_table_answers_for_every_kind(kind: str, name: str, secret: bool) -> None:
    assert is_secret_setting(kind, name) is secret


def test_the_formats_use_the_same_table() -> None:
    assert SECRET_DIRECTIVES is REDIS_SECRET_DIRECTIVES
    assert is_secret_key("auth_ldap.dn_lookup_bind.password")


def test_a_rabbitmq_secret_beyond_default_pass_is_masked_in_a_plan() -> None:
    live = b"ssl_options.password = old-Secret-1\n"
    fact = FileFact("/etc/rabbitmq/rabbitmq.conf", True, live, "x", "0640")
    spec = FileSpec("rabbitmq", fact.path, "t.j2")
    planned = plan_file(
        DesiredFile(spec, fact.path, b"ssl_options.password = new-Secret-2\n", {}),
        HostFacts({fact.path: fact}),
        Masker(),
    )
    [change] = planned.plan.changes
    assert change.secret and "Secret" not in change.old + change.new + planned.plan.diff
    assert parse("rabbitmq", live).settings()["ssl_options.password"] == "old-Secret-1"
