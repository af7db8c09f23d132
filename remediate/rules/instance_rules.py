"""Host findings about which files really run (RDS010, RDS011) and what the playbook meant to
manage (PLB001): facts of the host, not of one file, so they run in ``check_together``.

``Facts.redis_instances`` lists every running redis-server with the file ``INFO server`` says
it runs from (``config_file``; "" when started without one) or why it could not be asked. It
is None where no such facts were gathered (``lint``) and where the host manages no redis.conf
(a play about Celery files says nothing about a Redis the host also runs).

* RDS010: a running redis-server whose file no managed redis.conf is: the playbook fixes a
  file while the server the workers use runs from another one (or from none: defaults and
  command-line options only). An instance that could not be asked is reported too: whether
  its file is managed is unknown.
* RDS011: a managed redis.conf (server flavor) that no running redis-server uses, while
  redis-server processes run and every one of them said which file it runs from: fixing it
  changes nothing until something starts a server from it.
* PLB001: a playbook ``path`` pattern (``/etc/redis/redis*.conf``) that matched no file on
  the host (``Facts.unmatched_paths``): the host manages nothing there, which a plan must say
  rather than print "no changes".
"""

from __future__ import annotations

from collections.abc import Sequence

from remediate.formats.base import Document
from remediate.model.plans import Finding
from remediate.rules.base import Facts, RuleInfo, finding

RDS010 = RuleInfo(
    "RDS010",
    "redis",
    "warning",
    "a running redis-server runs from a file the playbook does not manage",
    "Redis reads its config file once, at start: the instance the workers talk to keeps the "
    "values of the file it started from (INFO server config_file), whatever the managed "
    "redis.conf says. Debian's redis-server@NAME units run /etc/redis/redis-NAME.conf, "
    "containers often start from a file elsewhere or from none, so fixing redis.conf may not "
    "touch the server that drops idle Celery connections.",
    "manage the file this instance runs from (a playbook path pattern such as "
    "/etc/redis/redis*.conf covers every instance), or stop the instance",
)
RDS011 = RuleInfo(
    "RDS011",
    "redis",
    "warning",
    "no running redis-server uses this managed redis.conf",
    "redis-server processes run on this host, each started from another file (INFO server "
    "config_file): a change to this file reaches no running server, not even after a "
    "restart of those instances, so the fix looks applied while the broker keeps its values.",
    "manage the files the running instances use, or start the instance this file is for",
)
PLB001 = RuleInfo(
    "PLB001",
    "playbook",
    "warning",
    "a playbook path pattern matches no file on this host",
    "A playbook path with *, ? or [...] manages every file it matches on each host, expanded "
    "by the host's shell at plan time. Matching nothing, the play manages no file there and "
    "would report the host as clean: the pattern, the host's selection, or the package that "
    "installs the file is wrong.",
    "fix the pattern (or the host's group), or give the file's literal path to create it",
)
RULE_INFOS = (RDS010, RDS011, PLB001)


def check_instances(docs: Sequence[Document], facts: Facts) -> list[Finding]:
    """RDS010, RDS011 and PLB001 over a host's managed files and its running servers."""
    out = [
        finding(PLB001, pattern, None, f"{pattern} matches no file on this host")
        for pattern in facts.unmatched_paths
    ]
    instances = facts.redis_instances
    if instances is None:
        return out
    managed = {
        d.path for d in docs if d.kind == "redis" and getattr(d, "flavor", "server") == "server"
    }
    used = {i.config_file for i in instances if not i.error}
    for i in instances:
        where = f"redis-server pid {i.pid}" + (f" on {i.listener}" if i.listener else "")
        if i.error:
            out.append(
                finding(
                    RDS010,
                    "redis-server",
                    None,
                    f"{where}: which file it runs from is unknown ({i.error})",
                )
            )
        elif not i.config_file:
            out.append(
                finding(
                    RDS010,
                    "redis-server",
                    None,
                    f"{where} runs without a config file (defaults and command-line options)",
                )
            )
        elif i.config_file not in managed:
            out.append(
                finding(
                    RDS010,
                    i.config_file,
                    None,
                    f"{where} runs from {i.config_file}, which the playbook does not manage",
                )
            )
    if instances and not any(i.error for i in instances):
        running = ", ".join(
            f"{i.config_file or '(no file)'} (pid {i.pid})"
            for i in sorted(instances, key=lambda i: i.pid)
        )
        for path in sorted(managed - used):
            out.append(
                finding(
                    RDS011,
                    path,
                    None,
                    f"no running redis-server uses {path} (running: {running})",
                )
            )
    return out


__all__ = ["PLB001", "RDS010", "RDS011", "RULE_INFOS", "check_instances"]
