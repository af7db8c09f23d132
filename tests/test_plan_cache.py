"""The planner's shared cache: identical hosts share merges and rule runs, different ones do not."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

import remediate.rules
from remediate.model.facts import FileFact, HostFacts, RedisRuntime
from remediate.model.secrets import Masker
from remediate.plan.planner import DesiredFile, MergeCache, host_findings, plan_file
from remediate.playbook.schema import FileSpec

LIVE = b"bind 127.0.0.1\nport 6379\ntimeout 300\n"
DESIRED = b"timeout 0\ntcp-keepalive 60\n"
SPEC = FileSpec("redis", "/etc/redis/redis.conf", "redis.conf.j2")


def facts(content: bytes = LIVE, timeout: str = "300") -> HostFacts:
    fact = FileFact(
        "/etc/redis/redis.conf", True, content, hashlib.sha256(content).hexdigest(), "0640"
    )
    return HostFacts({fact.path: fact}, redis=RedisRuntime(True, config={"timeout": timeout}))


def findings_of(cache: MergeCache, host_facts: HostFacts) -> tuple[Any, ...]:
    planned = plan_file(DesiredFile(SPEC, SPEC.path, DESIRED, {}), host_facts, Masker(), cache)
    return host_findings([planned], host_facts, {}, Masker(), cache)


@pytest.fixture
def rule_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    runs: list[str] = []
    real = remediate.rules.check

    def counting(doc: Any, f: Any = None) -> Any:
        runs.append(doc.path)
        return real(doc, f)

    monkeypatch.setattr(remediate.rules, "check", counting)
    return runs


def test_identical_hosts_run_the_rules_once(rule_runs: list[str]) -> None:
    cache = MergeCache()
    first = findings_of(cache, facts())
    assert first and any(f.rule for f in first)  # timeout 300 is a finding
    assert findings_of(cache, facts()) == first
    assert len(rule_runs) == 1


def test_other_runtime_facts_or_bytes_run_the_rules_again(rule_runs: list[str]) -> None:
    cache = MergeCache()
    findings_of(cache, facts())
    findings_of(cache, facts(timeout="0"))  # the running server says something else
    findings_of(cache, facts(LIVE.replace(b"300", b"0")))  # another file
    assert len(rule_runs) == 3


def test_without_a_cache_the_findings_are_the_same(rule_runs: list[str]) -> None:
    host = facts()
    planned = plan_file(DesiredFile(SPEC, SPEC.path, DESIRED, {}), host, Masker())
    assert host_findings([planned], host, {}, Masker()) == findings_of(MergeCache(), host)
