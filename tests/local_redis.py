"""A throwaway real ``redis-server`` on a free loopback port, in a temp dir (no SSH fleet).

with LocalRedis(tmp_path) as server:
    redis.Redis(port=server.port).ping()
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalRedis:
    """``redis-server`` without persistence, on 127.0.0.1 and a free port; killed on exit."""

    def __init__(self, directory: Path, *extra: str, password: str | None = None) -> None:
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = free_port()
        self.password = password
        self.extra = (*extra, "--requirepass", password) if password else extra
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "wb")  # the child keeps its own copy
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except (redis.ConnectionError, redis.AuthenticationError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(
                        "redis-server did not start: "
                        + (self.directory / "redis.log").read_text()[-2000:]
                    )
                time.sleep(0.05)

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis(
            host=self.host,
            port=self.port,
            password=self.password,  # type: ignore[arg-type]
            socket_timeout=5,
            **options,
        )

    def client_names(self) -> list[str]:
        """The names of the connections redis-server still holds (``CLIENT LIST``)."""
        with self.client() as client:
            return [c.get("name", "") for c in client.client_list()]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
