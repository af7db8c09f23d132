"""``remediate relay``: a loopback TCP relay that silently drops idle flows, for rehearsals."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Annotated

import typer

Listen = Annotated[
    str,
    typer.Option(
        "--listen", help="Loopback HOST:PORT to accept connections on (point the client here)."
    ),
]
Target = Annotated[
    str,
    typer.Option(
        "--to", help="HOST:PORT of the real server (e.g. redis-server); the only place it connects."
    ),
]
Idle = Annotated[
    float,
    typer.Option(
        "--idle", help="Seconds without a byte in either direction after which a flow goes dark."
    ),
]
MaxSeconds = Annotated[
    float | None,
    typer.Option(
        "--max-seconds", help="Stop by itself after this many seconds (default: until Ctrl-C)."
    ),
]


def relay(
    to: Target,
    listen: Listen = "127.0.0.1:16379",
    idle: Idle = 5.0,
    max_seconds: MaxSeconds = None,
) -> None:
    """Forward --listen to --to, and silently stop forwarding any connection idle longer than
    --idle seconds (no FIN, no RST: later bytes vanish both ways), like a NAT or load balancer
    that forgot the flow. TCP keepalive probes carry no data and do not keep a flow alive.
    One line per event on stderr; exit 0 on Ctrl-C or --max-seconds."""
    from remediate.remote.idle_relay import IdleRelay, RelayEvent, parse_endpoint

    def show(event: RelayEvent) -> None:
        typer.echo(f"{time.strftime('%H:%M:%S')} relay: {event.line()}", err=True)

    proxy = IdleRelay(
        parse_endpoint(listen, what="--listen"),
        parse_endpoint(to, what="--to"),
        idle,
        max_seconds=max_seconds,
        on_event=show,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        proxy.stop(timeout=0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proxy.start()
        while not proxy.wait(0.5):
            pass
    finally:
        proxy.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
