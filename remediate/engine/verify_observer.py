"""What the broker and the host show about a ``remediate verify`` canary's connections while
it idles: Redis ``CLIENT LIST`` (through the host's SSH connection), RabbitMQ's
``rabbitmqctl list_connections`` and the host's ``ss -tnoe``. What cannot be read is a note in
the report, never a failure of the host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.model.facts import RedisEndpoint
from remediate.model.verify import BrokerView
from remediate.plan.verify_settings import is_redis
from remediate.remote import canary_host as ch


class BrokerObserver:
    """What the broker and the host show about the canary's connections."""

    def __init__(self, host: Any, settings: dict[str, Any], password: str) -> None:
        self.host = host
        self.settings = settings
        self.redis = is_redis(settings)
        self.endpoint = RedisEndpoint(
            str(settings.get("hostname") or "127.0.0.1"),
            int(settings.get("port") or 0),
            password or None,
        )
        self.port = int(settings.get("port") or 0)
        self.name = ch.canary_client_name(host.options.run)
        self.pid = 0
        self.samples = 0
        self.most = 0
        self.idle: dict[str, float] = {}
        self.consumer: float | None = None
        self.known: set[str] = set()
        self.keepalive: tuple[str, ...] = ()
        self.heartbeat: int | None = None
        self.notes: list[str] = []

    def _client(self) -> Any:
        from remediate.remote.runtime import redis_client

        return redis_client(self.host.conn, self.endpoint, 5.0)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(self.host.masker(text))

    def redis_timeout(self) -> float:
        if not self.redis:
            return 0.0
        try:
            client = self._client()
            try:
                value = client.config_get("timeout").get("timeout", "0")
            finally:
                client.close()
            return float(value or 0)
        except Exception as exc:  # noqa: BLE001 (CONFIG may be renamed or refused)
            self._note(f"Redis timeout not read: {type(exc).__name__}")
            return 0.0

    def baseline(self) -> None:
        if not self.redis:
            return
        try:
            client = self._client()
            try:
                self.known = {str(c.get("id")) for c in client.client_list()}
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001
            self._note(f"CLIENT LIST not read: {type(exc).__name__}: {exc}")

    def sample(self) -> None:
        if not self.redis:
            return
        try:
            client = self._client()
            try:
                clients = client.client_list()
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 (a broker we cannot reach: said, not fatal)
            self._note(f"CLIENT LIST not read: {type(exc).__name__}: {exc}")
            return
        self.samples += 1
        mine = ch.canary_clients(clients, self.name, self.known)
        self.most = max(self.most, len(mine))
        for c in mine:
            key = f"id={c.get('id')} cmd={c.get('cmd')}"
            for old in [k for k in self.idle if k.startswith(f"id={c.get('id')} ")]:
                if old != key:
                    self.idle[key] = max(self.idle.pop(old), self.idle.get(key, 0.0))
            self.idle[key] = max(self.idle.get(key, 0.0), float(c.get("idle", 0)))
            if str(c.get("cmd", "")).startswith(ch.BLOCKING_READS):
                self.consumer = max(self.consumer or 0.0, float(c.get("idle", 0)))

    def sockets(self) -> None:
        result = self.host.sh("ss -tnoep 2>/dev/null || ss -tnoe", timeout=15)
        timers = ch.parse_ss(result.stdout.decode("utf-8", "replace"), self.pid)
        self.keepalive = tuple(t.line() for t in timers)
        if not timers:
            self._note("ss showed no socket of the canary")
        if not self.redis:
            self._rabbit(timers)

    def _rabbit(self, timers: Sequence[ch.SocketTimer]) -> None:
        result = self.host.sh(
            "command -v rabbitmqctl >/dev/null || exit 3; "
            "rabbitmqctl -q list_connections name timeout",
            timeout=30,
        )
        if result.exited == 3:
            self._note("rabbitmqctl not on this host: negotiated heartbeat not read")
            return
        rows = ch.parse_list_connections(result.stdout.decode("utf-8", "replace"))
        ports = {t.local.rsplit(":", 1)[-1] for t in timers}
        mine = [r for r in rows if any(f":{p} " in r.name + " " for p in ports)]
        self.samples += 1
        self.most = max(self.most, len(mine))
        if mine:
            self.heartbeat = mine[0].timeout
        else:
            self._note("RabbitMQ listed no connection of the canary")

    def view(self) -> BrokerView:
        idle = max(self.idle.values()) if self.idle else None
        return BrokerView(
            self.samples,
            self.most,
            idle,
            self.consumer,
            dict(self.idle),
            self.heartbeat,
            self.keepalive,
            tuple(self.notes),
        )
