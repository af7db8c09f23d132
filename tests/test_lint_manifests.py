"""`remediate lint` on manifests: Helm values, docker-compose, Kubernetes and Terraform files
give the findings of the config documents they embed, at the manifest's own lines, honour
``# remediate: ignore`` comments in the manifest, and go quiet once the settings are fixed.

The fixture files (tests/fixtures/manifests/) follow the documented shapes, cited in each file:
bitnami/charts bitnami/redis and bitnami/rabbitmq values.yaml (``commonConfiguration``,
``master.configuration``, ``replica.configuration``; ``extraConfiguration``), the redis-ha
chart's values.yaml (``redis.config``, ``haproxy.timeout.client/server``), the Compose
Specification (``command``, ``healthcheck.test``, ``configs.content``), the Kubernetes
ConfigMap and probe docs, and the Terraform providers' docs for
``aws_elasticache_parameter_group``, ``google_redis_instance``, ``aws_mq_configuration`` and
``aws_lb``. The bitnami start scripts include ``redis.conf`` (common) and then ``master.conf``
(``templates/scripts-configmap.yaml``: ``--include .../redis.conf --include .../master.conf``),
which is why a master setting overrides a common one here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from remediate.lint.kinds import detect_kind
from remediate.lint.manifests.hcl_lines import HclLines
from remediate.lint.run import lint_paths

MANIFESTS = Path(__file__).resolve().parent / "fixtures" / "manifests"


def shown(
    path: Path, tmp: Path | None = None, **replace: str
) -> list[tuple[str, int, int | None, bool]]:
    """(rule, line, column, suppressed) of linting ``path`` alone (edited by ``replace``)."""
    folder = tmp or path.parent
    if tmp is not None:
        text = path.read_text()
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        (folder / path.name).write_text(text)
    run = lint_paths([folder / path.name], cwd=folder)
    assert not run.errors
    return [
        (f.finding.rule, f.finding.line or 0, f.finding.column, f.finding.suppressed)
        for f in run.findings
    ]


# -- kinds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("values-redis.yaml", "helm"),
        ("values-rabbitmq.yaml", "helm"),
        ("values-redis-ha.yaml", "helm"),
        ("docker-compose.yml", "compose"),
        ("k8s.yaml", "kubernetes"),
        ("main.tf", "terraform"),
        ("celeryconfig.py", "celery"),
    ],
)
def test_each_manifest_is_told_by_its_name_and_content(name: str, kind: str) -> None:
    assert detect_kind(str(MANIFESTS / name), (MANIFESTS / name).read_bytes()) == kind


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("templates/configmap.yaml", "data:\n  redis.conf: |-\n{{ tpl .Values.x . | indent 4 }}\n"),
        (".github/workflows/ci.yml", "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"),
        ("values.yaml", "image:\n  tag: 1.2\nreplicaCount: 2\n"),
        ("k8s/service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: redis\n"),
        ("infra/s3.tf", 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n'),
        ("compose.yaml", "version: '3'\n"),
    ],
)
def test_yaml_and_terraform_that_hold_none_of_our_settings_are_not_linted(
    name: str, text: str
) -> None:
    assert detect_kind(name, text.encode()) is None


# -- findings at the manifest's lines --------------------------------------------------------


def test_bitnami_redis_values_common_then_master_and_replica() -> None:
    assert shown(MANIFESTS / "values-redis.yaml") == [
        ("RDS002", 11, 3, False),  # commonConfiguration: tcp-keepalive 0 (both servers read it)
        ("RDS003", 16, 5, False),  # master: allkeys-lru with maxmemory 1gb: error
        ("RDS001", 17, 5, False),  # master: timeout 300
        ("RDS001", 25, 5, True),  # replica: timeout 120, silenced by the comment above it
    ]


def test_a_master_setting_overrides_the_common_one_as_redis_include_order_does(
    tmp_path: Path,
) -> None:
    found = shown(
        MANIFESTS / "values-redis.yaml",
        tmp_path,
        **{"    timeout 300\n": "    timeout 300\n    tcp-keepalive 60\n"},
    )
    # the master now overrides tcp-keepalive 0; the replica still reads it from common
    assert ("RDS002", 11, 3, False) in found
    master = shown(
        MANIFESTS / "values-redis.yaml",
        tmp_path,
        **{
            "    timeout 300\n": "    timeout 300\n    tcp-keepalive 60\n",
            "replica:\n": "replica:\n  enabled: false\n",
            "  configuration: |-\n    # replicas": "  other: |-\n    # replicas",
        },
    )
    assert [f for f in master if f[0] == "RDS002"] == []


def test_bitnami_rabbitmq_extra_configuration() -> None:
    assert shown(MANIFESTS / "values-rabbitmq.yaml") == [("RMQ001", 7, 3, False)]


def test_compose_commands_health_checks_and_inline_configs() -> None:
    assert shown(MANIFESTS / "docker-compose.yml") == [
        ("RDS001", 6, 44, False),  # command string: --timeout 300, at its word
        ("RDS002", 6, 58, False),  # --tcp-keepalive 0
        ("RDS003", 13, 9, False),  # list form: the --maxmemory-policy item's line
        ("MNF001", 24, 13, False),  # healthcheck: celery inspect ping
        ("CEL005", 29, 7, False),  # configs.celeryconfig content, mounted as celeryconfig.py
    ]


def test_kubernetes_configmap_files_container_args_and_liveness_probes() -> None:
    assert shown(MANIFESTS / "k8s.yaml") == [
        ("RDS001", 12, 5, False),  # ConfigMap data redis.conf: timeout 600
        ("RDS002", 13, 5, False),  # tcp-keepalive 900
        ("CEL005", 15, 5, False),  # ConfigMap data celeryconfig.py: no transport options
        ("MNF001", 40, 17, False),  # livenessProbe exec: celery inspect ping
        ("RDS003", 61, 18, False),  # StatefulSet args --maxmemory-policy allkeys-lfu
    ]


def test_terraform_parameter_groups_memorystore_and_amazon_mq() -> None:
    run = lint_paths([MANIFESTS / "main.tf"], cwd=MANIFESTS)
    found = [(f.finding.rule, f.finding.line, f.finding.severity) for f in run.findings]
    assert found == [
        ("RDS001", 11, "info"),  # parameter timeout = "300": the value's line
        ("RDS002", 16, "warning"),
        ("RDS003", 21, "error"),  # ElastiCache always has a memory limit (its node size)
        ("RDS003", 29, "error"),  # google_redis_instance.redis_configs
        ("RMQ001", 40, "warning"),  # aws_mq_configuration data heredoc: heartbeat = 0
    ]


def test_suppressions_in_yaml_and_hcl_comments(tmp_path: Path) -> None:
    compose = shown(
        MANIFESTS / "docker-compose.yml",
        tmp_path,
        **{
            "      - --maxmemory-policy\n": "      # remediate: ignore RDS003 -- a cache, not the broker\n"
            "      - --maxmemory-policy\n"
        },
    )
    assert ("RDS003", 14, 9, True) in compose
    terraform = shown(
        MANIFESTS / "main.tf",
        tmp_path,
        **{'    value = "300"': '    value = "300" # remediate: ignore RDS001'},
    )
    assert ("RDS001", 11, 5, True) in terraform


# -- fixed, the same files are clean ---------------------------------------------------------


def test_fixed_manifests_give_no_finding(tmp_path: Path) -> None:
    fixed = {
        "values-redis.yaml": {
            "tcp-keepalive 0": "tcp-keepalive 60",
            "allkeys-lru": "noeviction",
            "timeout 300": "timeout 0",
            "timeout 120": "timeout 0",
        },
        "values-rabbitmq.yaml": {"heartbeat = 600": "heartbeat = 60"},
        "docker-compose.yml": {
            "--timeout 300 --tcp-keepalive 0": "--timeout 0 --tcp-keepalive 60",
            "allkeys-lru": "noeviction",
            '"CMD-SHELL", "celery -A proj inspect ping -d celery@$$HOSTNAME"': '"CMD-SHELL", "test -e /tmp/worker-alive"',
            '      broker_url = "redis://redis:6379/0"\n': '      broker_url = "redis://redis:6379/0"\n      broker_transport_options = '
            '{"socket_keepalive": True, "socket_keepalive_options": {4: 60, 5: 10, 6: 3}, '
            '"socket_timeout": 30}\n',
        },
        "k8s.yaml": {
            "timeout 600": "timeout 0",
            "tcp-keepalive 900": "tcp-keepalive 60",
            '    broker_url = "redis://redis:6379/0"\n': '    broker_url = "redis://redis:6379/0"\n    broker_transport_options = '
            '{"socket_keepalive": True, "socket_keepalive_options": {4: 60, 5: 10, 6: 3}, '
            '"socket_timeout": 30}\n',
            "- celery -A proj inspect ping -d celery@$HOSTNAME": "- test -e /tmp/worker-alive",
            "allkeys-lfu": "noeviction",
        },
        "main.tf": {
            '"300"': '"0"',
            'value = "0"\n  }\n\n  parameter {\n    name  = "maxmemory': 'value = "60"\n  }\n\n  parameter {\n    name  = "maxmemory',
            "allkeys-lru": "noeviction",
            "heartbeat = 0": "heartbeat = 60",
        },
    }
    for name, edits in fixed.items():
        text = (MANIFESTS / name).read_text()
        for old, new in edits.items():
            assert old in text, (name, old)
            text = text.replace(old, new)
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_text(text)
        run = lint_paths([folder / name], cwd=folder)
        assert [(f.finding.rule, f.finding.line) for f in run.findings] == [], name
        assert run.files == ((name, detect_kind(name, text.encode())),)


# -- idle limits on the path (X004 class) -----------------------------------------------------


def test_haproxy_timeout_of_the_redis_ha_chart_against_the_health_check(tmp_path: Path) -> None:
    for name in ("values-redis-ha.yaml", "celeryconfig.py"):
        shutil.copy(MANIFESTS / name, tmp_path / name)
    run = lint_paths([tmp_path], cwd=tmp_path)
    [found] = [f.finding for f in run.findings if f.finding.rule == "MNF002"]
    assert (found.path, found.line) == ("celeryconfig.py", 4)
    assert "30 s" in found.message and "values-redis-ha.yaml:16" in found.message
    # keepalive does not help through HAProxy; a health check below 30 s does
    celery = (tmp_path / "celeryconfig.py").read_text()
    (tmp_path / "celeryconfig.py").write_text(
        celery.replace('"health_check_interval": 60', '"health_check_interval": 10')
    )
    assert [
        f for f in lint_paths([tmp_path], cwd=tmp_path).findings if f.finding.rule == "MNF002"
    ] == []
    # HAProxy off: no limit on the path
    (tmp_path / "celeryconfig.py").write_text(celery)
    values = (tmp_path / "values-redis-ha.yaml").read_text()
    (tmp_path / "values-redis-ha.yaml").write_text(
        values.replace("enabled: true", "enabled: false")
    )
    assert [
        f for f in lint_paths([tmp_path], cwd=tmp_path).findings if f.finding.rule == "MNF002"
    ] == []


def test_network_load_balancer_against_amqp_heartbeats_and_keepalive(tmp_path: Path) -> None:
    shutil.copy(MANIFESTS / "main.tf", tmp_path / "main.tf")
    (tmp_path / "celeryconfig.py").write_text(
        'broker_url = "amqp://mq.internal:5672//"\nbroker_heartbeat = 0\n'
    )
    run = lint_paths([tmp_path], cwd=tmp_path)
    [found] = [f.finding for f in run.findings if f.finding.rule == "MNF002"]
    assert (found.path, found.line) == ("celeryconfig.py", 2)
    assert "350 s" in found.message and "main.tf:47" in found.message
    # an NLB counts TCP keepalives: a Redis broker with keepalive idle 60 s passes it
    (tmp_path / "celeryconfig.py").write_text(
        "import socket\nbroker_url = 'redis://r:6379/0'\nbroker_transport_options = {"
        "'socket_keepalive': True, 'socket_keepalive_options': {socket.TCP_KEEPIDLE: 60}, "
        "'socket_timeout': 30, 'health_check_interval': 0}\n"
    )
    assert [
        f.finding.rule
        for f in lint_paths([tmp_path], cwd=tmp_path).findings
        if f.finding.rule == "MNF002"
    ] == []


# -- bad input ---------------------------------------------------------------------------------


def test_invalid_terraform_is_one_parse_finding_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('resource "aws_lb" "x" {\n  load_balancer_type = \n}\n')
    run = lint_paths([tmp_path / "bad.tf"], cwd=tmp_path)
    [found] = [f.finding for f in run.findings]
    assert (found.rule, found.path, found.line) == ("PARSE", "bad.tf", 2)


def test_an_embedded_line_redis_refuses_is_reported_at_the_manifest_line(tmp_path: Path) -> None:
    found = shown(
        MANIFESTS / "values-redis.yaml", tmp_path, **{"    timeout 300\n": "    timeout 0 # x\n"}
    )
    assert ("RDS005", 17, 15, False) in found  # at the "#" Redis refuses


# -- the HCL line scanner ------------------------------------------------------------------------


def test_hcl_lines_skip_strings_comments_and_heredocs() -> None:
    text = (
        'resource "a" "b" {\n'  # 1
        '  x = "{ not a brace"\n'  # 2
        "  # } not one either\n"  # 3
        "  data = <<EOT\n"  # 4
        "  value = {\n"  # 5 (heredoc body)
        "EOT\n"  # 6
        "  value = 1\n"  # 7
        "  inner {\n"  # 8
        "    value = 2\n"  # 9
        "  }\n"  # 10
        "}\n"
    )  # 11
    lines = HclLines(text)
    [block] = lines.blocks("resource")
    assert (block.labels, block.start, block.end) == (("a", "b"), 1, 11)
    assert lines.attribute(block, "value") == 7
    [inner] = lines.sub_blocks(block, "inner")
    assert (inner.start, inner.end, lines.attribute(inner, "value")) == (8, 10, 9)
    assert lines.heredoc(4) == (5, ["  value = {"], 0)
