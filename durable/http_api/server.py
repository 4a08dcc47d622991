"""How the API is served (uvicorn, h11), with every server limit set on purpose.

| limit | default | past it |
|---|---|---|
| body size | 256 KiB | 413, before the body is read |
| body deadline | 10 s from the end of the headers | 408 and `Connection: close`; one log line |
| header size | 16 KiB | the connection is closed with 431/400 by h11 |
| concurrent connections and requests | 2,048 | 503 |
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
import uvicorn
from fastapi import FastAPI

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


def server_config(app: FastAPI, host: str, port: int, limits: ServerLimits, log_level: str) -> uvicorn.Config:
    @contextlib.asynccontextmanager
    async def widened(inner: Any) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = limits.threads
        yield

    app.router.lifespan_context = widened
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
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
