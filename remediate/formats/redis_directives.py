"""What Redis 7 accepts in a config file: directive names, aliases, argument counts.

``STANDARD_DIRECTIVES`` is the name list of Redis 7.0's ``static_configs`` table in
``src/config.c``, checked against a running redis-server 7.0.15 (Debian 12):
``CONFIG GET *`` (173 names plus 19 aliases) and, for the hidden ones, ``CONFIG GET
<name>``.  ``LATER_DIRECTIVES`` are names Redis 7.2/7.4 added (from the upstream
redis.conf) so that newer files do not look wrong.  The rest of
``loadServerConfigFromString`` handles the special directives ``include``,
``rename-command``, ``user``, ``loadmodule`` and ``sentinel``, skips three
deprecated names silently, and queues dotted ``module.option`` names for modules.
"""

from __future__ import annotations

from collections.abc import Sequence

from remediate.model.secrets import REDIS_SECRET_DIRECTIVES

STANDARD_DIRECTIVES = frozenset(
    [
        "acl-pubsub-default",
        "aclfile",
        "acllog-max-len",
        "active-defrag-cycle-max",
        "active-defrag-cycle-min",
        "active-defrag-ignore-bytes",
        "active-defrag-max-scan-fields",
        "active-defrag-threshold-lower",
        "active-defrag-threshold-upper",
        "active-expire-effort",
        "activedefrag",
        "activerehashing",
        "always-show-logo",
        "aof-disable-auto-gc",
        "aof-load-truncated",
        "aof-rewrite-incremental-fsync",
        "aof-timestamp-enabled",
        "aof-use-rdb-preamble",
        "aof_rewrite_cpulist",
        "appenddirname",
        "appendfilename",
        "appendfsync",
        "appendonly",
        "auto-aof-rewrite-min-size",
        "auto-aof-rewrite-percentage",
        "bgsave_cpulist",
        "bind",
        "bind-source-addr",
        "bio_cpulist",
        "busy-reply-threshold",
        "client-output-buffer-limit",
        "client-query-buffer-limit",
        "cluster-allow-pubsubshard-when-down",
        "cluster-allow-reads-when-down",
        "cluster-allow-replica-migration",
        "cluster-announce-bus-port",
        "cluster-announce-hostname",
        "cluster-announce-ip",
        "cluster-announce-port",
        "cluster-announce-tls-port",
        "cluster-config-file",
        "cluster-enabled",
        "cluster-link-sendbuf-limit",
        "cluster-migration-barrier",
        "cluster-node-timeout",
        "cluster-port",
        "cluster-preferred-endpoint-type",
        "cluster-replica-no-failover",
        "cluster-replica-validity-factor",
        "cluster-require-full-coverage",
        "crash-log-enabled",
        "crash-memcheck-enabled",
        "daemonize",
        "databases",
        "dbfilename",
        "dir",
        "disable-thp",
        "dynamic-hz",
        "enable-debug-command",
        "enable-module-command",
        "enable-protected-configs",
        "hash-max-listpack-entries",
        "hash-max-listpack-value",
        "hll-sparse-max-bytes",
        "hz",
        "ignore-warnings",
        "io-threads",
        "io-threads-do-reads",
        "jemalloc-bg-thread",
        "latency-monitor-threshold",
        "latency-tracking",
        "latency-tracking-info-percentiles",
        "lazyfree-lazy-eviction",
        "lazyfree-lazy-expire",
        "lazyfree-lazy-server-del",
        "lazyfree-lazy-user-del",
        "lazyfree-lazy-user-flush",
        "lfu-decay-time",
        "lfu-log-factor",
        "list-compress-depth",
        "list-max-listpack-size",
        "logfile",
        "loglevel",
        "masterauth",
        "masteruser",
        "maxclients",
        "maxmemory",
        "maxmemory-clients",
        "maxmemory-eviction-tenacity",
        "maxmemory-policy",
        "maxmemory-samples",
        "min-replicas-max-lag",
        "min-replicas-to-write",
        "no-appendfsync-on-rewrite",
        "notify-keyspace-events",
        "oom-score-adj",
        "oom-score-adj-values",
        "pidfile",
        "port",
        "proc-title-template",
        "propagation-error-behavior",
        "protected-mode",
        "proto-max-bulk-len",
        "rdb-del-sync-files",
        "rdb-save-incremental-fsync",
        "rdbchecksum",
        "rdbcompression",
        "repl-backlog-size",
        "repl-backlog-ttl",
        "repl-disable-tcp-nodelay",
        "repl-diskless-load",
        "repl-diskless-sync",
        "repl-diskless-sync-delay",
        "repl-diskless-sync-max-replicas",
        "repl-ping-replica-period",
        "repl-timeout",
        "replica-announce-ip",
        "replica-announce-port",
        "replica-announced",
        "replica-ignore-disk-write-errors",
        "replica-ignore-maxmemory",
        "replica-lazy-flush",
        "replica-priority",
        "replica-read-only",
        "replica-serve-stale-data",
        "replicaof",
        "requirepass",
        "sanitize-dump-payload",
        "save",
        "server_cpulist",
        "set-max-intset-entries",
        "set-proc-title",
        "shutdown-on-sigint",
        "shutdown-on-sigterm",
        "shutdown-timeout",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "socket-mark-id",
        "stop-writes-on-bgsave-error",
        "stream-node-max-bytes",
        "stream-node-max-entries",
        "supervised",
        "syslog-enabled",
        "syslog-facility",
        "syslog-ident",
        "tcp-backlog",
        "tcp-keepalive",
        "timeout",
        "tls-auth-clients",
        "tls-ca-cert-dir",
        "tls-ca-cert-file",
        "tls-cert-file",
        "tls-ciphers",
        "tls-ciphersuites",
        "tls-client-cert-file",
        "tls-client-key-file",
        "tls-client-key-file-pass",
        "tls-cluster",
        "tls-dh-params-file",
        "tls-key-file",
        "tls-key-file-pass",
        "tls-port",
        "tls-prefer-server-ciphers",
        "tls-protocols",
        "tls-replication",
        "tls-session-cache-size",
        "tls-session-cache-timeout",
        "tls-session-caching",
        "tracking-table-max-keys",
        "unixsocket",
        "unixsocketperm",
        "zset-max-listpack-entries",
        "zset-max-listpack-value",
        "key-load-delay",
        "loading-process-events-interval-bytes",
        "lua-enable-deprecated-api",
        "rdb-key-save-delay",
        "use-exit-on-panic",
        "watchdog-period",
    ]
)

#: old names Redis still accepts, mapped to the name Redis 7 uses for the same setting
ALIASES: dict[str, str] = {
    "slaveof": "replicaof",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-read-only": "replica-read-only",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-priority": "replica-priority",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
    "lua-time-limit": "busy-reply-threshold",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    # Redis 7.2 renamed the cpu lists with dashes and kept the underscores as aliases
    "server-cpulist": "server_cpulist",
    "bio-cpulist": "bio_cpulist",
    "aof-rewrite-cpulist": "aof_rewrite_cpulist",
    "bgsave-cpulist": "bgsave_cpulist",
}

LATER_DIRECTIVES = frozenset(
    {
        "cluster-announce-human-nodename",
        "max-new-connections-per-cycle",
        "max-new-tls-connections-per-cycle",
        "locale-collate",
        "hide-user-data-from-log",
        "enable-debug-assert",
        "set-max-listpack-entries",
        "set-max-listpack-value",
    }
)

SPECIAL_DIRECTIVES = frozenset({"include", "rename-command", "user", "loadmodule", "sentinel"})

#: skipped silently by Redis 7 when given exactly one argument
DEPRECATED_DIRECTIVES = frozenset(
    {"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}
)

KNOWN_DIRECTIVES = (
    STANDARD_DIRECTIVES
    | frozenset(ALIASES)
    | LATER_DIRECTIVES
    | SPECIAL_DIRECTIVES
    | DEPRECATED_DIRECTIVES
)

#: standard configs that take several arguments (MULTI_ARG_CONFIG); all others take one
MULTI_ARG_DIRECTIVES = frozenset(
    {
        "save",
        "client-output-buffer-limit",
        "oom-score-adj-values",
        "bind",
        "replicaof",
        "latency-tracking-info-percentiles",
    }
)

#: directives that may appear on several lines, each line adding to the setting
REPEATABLE_DIRECTIVES = frozenset(
    {
        "save",
        "rename-command",
        "include",
        "loadmodule",
        "user",
        "client-output-buffer-limit",
        "sentinel",
    }
)

#: MEMORY_CONFIG values: ``2gb`` and ``2147483648`` are the same
MEMORY_DIRECTIVES = frozenset(
    {
        "maxmemory",
        "maxmemory-clients",
        "proto-max-bulk-len",
        "repl-backlog-size",
        "cluster-link-sendbuf-limit",
        "active-defrag-ignore-bytes",
        "hash-max-listpack-value",
        "zset-max-listpack-value",
        "stream-node-max-bytes",
        "hll-sparse-max-bytes",
        "client-query-buffer-limit",
        "auto-aof-rewrite-min-size",
    }
)

#: enum values Redis compares without case (``configEnumGetValue`` uses strcasecmp)
ENUM_DIRECTIVES = frozenset(
    {
        "supervised",
        "syslog-facility",
        "repl-diskless-load",
        "loglevel",
        "maxmemory-policy",
        "appendfsync",
        "oom-score-adj",
        "acl-pubsub-default",
        "sanitize-dump-payload",
        "enable-protected-configs",
        "enable-debug-command",
        "enable-module-command",
        "cluster-preferred-endpoint-type",
        "tls-auth-clients",
        "propagation-error-behavior",
        "shutdown-on-sigint",
        "shutdown-on-sigterm",
    }
)

#: directives whose value is a secret to mask in every report (the table is model.secrets')
SECRET_DIRECTIVES = REDIS_SECRET_DIRECTIVES

#: ``sentinel <sub> <secret>`` positions (index into the args after ``sentinel``)
SENTINEL_SECRET_ARG = {"auth-pass": 2, "sentinel-pass": 1}


def canonical_name(name: str) -> str:
    """The Redis 7 name of a directive given in any case or by an old alias."""
    lowered = name.lower()
    return ALIASES.get(lowered, lowered)


def argument_problem(name: str, values: Sequence[str]) -> str | None:
    """Why Redis refuses directive ``name`` with these value arguments, or None.

    ``name`` is canonical; unknown names are not judged here.  Checked against
    redis-server 7.0.15 (``save 900`` and ``timeout 0 # x`` are refused)."""
    count = len(values)
    if name in DEPRECATED_DIRECTIVES:
        return None if count == 1 else "wrong number of arguments for a deprecated directive"
    if name == "include":
        return None if count == 1 else "include takes exactly one file name"
    if name == "rename-command":
        return None if count == 2 else "rename-command takes a command name and a new name"
    if name in ("user", "loadmodule"):
        return None if count >= 1 else f"{name} needs at least one argument"
    if name == "replicaof":
        return None if count == 2 else "replicaof takes a host and a port (or: no one)"
    if name == "client-output-buffer-limit":
        if count % 4 == 0:
            return None
        return "client-output-buffer-limit takes groups of: class hard-limit soft-limit seconds"
    if name == "oom-score-adj-values":
        return None if count == 3 else "oom-score-adj-values takes exactly three numbers"
    if name == "save":
        if count % 2 == 0 or list(values) == [""]:
            return None
        return 'save takes pairs of: seconds changes (or "" to disable saving)'
    if name in MULTI_ARG_DIRECTIVES:
        return None
    if name in STANDARD_DIRECTIVES or name in LATER_DIRECTIVES:
        if count == 1:
            return None
        return f"wrong number of arguments: {name} takes exactly one value"
    return None
