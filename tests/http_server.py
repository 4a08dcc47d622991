"""A real HTTP API server on a loopback port, for tests, the stress suite and the benchmark."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from durable.engine import Engine
from durable.http_api import create_app

TOKEN = "test-token-" + "x" * 20


@contextmanager
def serving(engine: Engine, token: str = TOKEN) -> Iterator[str]:
    """Serve `engine` on 127.0.0.1 at a free port; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, token), host="127.0.0.1", port=port,
                                           log_level="warning", backlog=4096))
    thread = threading.Thread(target=server.run, name="http-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTP API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
