"""How the API is served (uvicorn, h11), with every server limit set on purpose.

| limit | default | past it |
|---|---|---|
| body size | 256 KiB | 413, before the body is read |
| header deadline | 10 s from the connection's start or its last response | the connection is closed |
| body deadline | 10 s from the end of the headers | 408 and `Connection: close`; one log line |
| header size | 16 KiB | the connection is closed with 431/400 by h11 |
| concurrent connections and requests | 2,048 | 503 |
| open connections | twice the above | a new one is closed as it opens |
| idle keep-alive | 5 s | the connection is closed |
| listen backlog | 2,048 | the kernel refuses connections |
| engine threads | 256 | requests queue for a thread (bodies are already read) |
| graceful shutdown | 5 s | open connections are dropped |
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import attrs
import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from durable.engine import Engine
from durable.http_api.app import DEFAULT_BODY_TIMEOUT, create_app


@attrs.frozen(slots=True)
class ServerLimits:
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = 16 * 1024
    max_connections: int = 2048
    keep_alive_timeout: float = 5.0
    backlog: int = 2048
    threads: int = 256
    shutdown_timeout: float = 5.0


class DeadlinedH11Protocol(H11Protocol):
    """uvicorn's h11 connection with the two limits it lacks on connections that never finish a request.

    A client's request headers must be complete `header_timeout` after the
    connection opened or its previous response ended, or the connection is
    closed: uvicorn's own timers start only after a first response, and any
    byte received cancels them.  And past `connection_cap` open connections a
    new one is closed as it opens: uvicorn answers 503 only once headers have
    arrived, so idle connections could otherwise take every file descriptor.
    """

    header_timeout: float = 10.0
    connection_cap: int = 4096

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.connection_cap:
            transport.close()
            return
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)

    def _headers_overdue(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()


def server_config(app: FastAPI, host: str, port: int, limits: ServerLimits, log_level: str) -> uvicorn.Config:
    @contextlib.asynccontextmanager
    async def widened(inner: Any) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = limits.threads
        yield

    app.router.lifespan_context = widened
    protocol = type(
        "ServedProtocol", (DeadlinedH11Protocol,),
        {"header_timeout": limits.body_timeout, "connection_cap": 2 * limits.max_connections},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        backlog=limits.backlog,
        limit_concurrency=limits.max_connections,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_keep_alive=int(limits.keep_alive_timeout),
        timeout_graceful_shutdown=int(limits.shutdown_timeout),
        access_log=False,
    )


@contextlib.contextmanager
def serving_in_background(
    engine: Engine, token: str, host: str = "127.0.0.1", port: int = 0, limits: ServerLimits | None = None
) -> Iterator[str]:
    """Serve the API from a background thread (port 0: a free one); yields the base URL.

    For programs that embed the engine, and for tests against a real server.
    """
    limits = limits or ServerLimits()
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    app = create_app(engine, token, limits.body_timeout)
    server = uvicorn.Server(server_config(app, host, port, limits, "warning"))
    thread = threading.Thread(target=server.run, name="durable-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the HTTP API did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
