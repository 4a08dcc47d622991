"""How the API is served (uvicorn, h11), with every server limit set on purpose.

| limit | default | past it |
|---|---|---|
| body size | 256 KiB (4 KiB: a console request without a session) | 413, before reading (chunked: as it grows) |
| body pieces | 4,096 `http.request` messages | 400 and `Connection: close` |
| header deadline | 10 s from the connection's start or its last response | the connection is closed |
| body deadline | 10 s from the end of the headers | 408 and `Connection: close`; one log line |
| header size | 16 KiB | the connection is closed with 431/400 by h11 |
| requests in flight (headers arrived, response not yet ended) | 2,048 | 503 and `Connection: close` |
| open connections | twice the above | the longest waiting for request headers is closed (none: the new one is) |
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
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import attrs
import h11
import uvicorn
from fastapi import FastAPI
from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from durable.engine import Engine
from durable.http_api.app import DEFAULT_BODY_TIMEOUT, create_app
from durable.http_api.guard import refuse


@attrs.frozen(slots=True)
class ServerLimits:
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = 16 * 1024
    max_connections: int = 2048
    keep_alive_timeout: float = 5.0
    backlog: int = 2048
    threads: int = 256
    shutdown_timeout: float = 5.0


class RequestCap:
    """At most `limit` requests in flight (headers arrived, response not yet finished); past it, 503.

    uvicorn's `limit_concurrency` counts open connections as well, so a crowd of connections that never
    send a byte turned every real request away; this counts requests only.  Every call runs on the one
    event loop, so a plain counter is exact without a lock.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            logger.warning("{} {}: {:,} requests already in flight; answered 503", scope["method"], scope["path"],
                           self.in_flight)
            message = f"the server is answering its limit of {self.limit:,} requests at once; try again shortly"
            await refuse(503, message, {"Retry-After": "1", "Connection": "close"})(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


_NOTHING = memoryview(b"")


class DeadlinedH11Protocol(H11Protocol):
    """uvicorn's h11 connection with the two limits it lacks on connections that never finish a request.

    A client's request headers must be complete `header_timeout` after the
    connection opened or its previous response ended, or the connection is
    closed: uvicorn's own timers start only after a first response, and any
    byte received cancels them.  And past `connection_cap` open connections
    the one that has waited longest for request headers is closed to make
    room (idle connections could otherwise take every file descriptor, or
    lock out every newcomer); a newcomer is closed as it opens only when
    every other connection is in the middle of a request.
    """

    header_timeout: float = 10.0
    connection_cap: int = 4096
    _backlog: memoryview = _NOTHING  # what a read brought beyond the slice parsed so far

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        waiting = _waiting_for_headers(self.server_state)
        if len(self.connections) > self.connection_cap and not _close_longest_waiting(waiting):
            transport.close()
            return
        waiting[self] = None
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def data_received(self, data: bytes) -> None:
        """Hand h11 at most PARSE_SLICE bytes per turn of the event loop, the rest on later turns (reading
        paused meanwhile): a read of 256 KiB of one-byte chunks is 43,000 h11 events, a fifth of a second
        that would stall every other connection, and the guard could refuse it only after the whole read."""
        if self._backlog:
            self._backlog = memoryview(bytes(self._backlog) + data)
            self.transport.pause_reading()
            return
        if len(data) > PARSE_SLICE:
            self._backlog = memoryview(data)[PARSE_SLICE:]
            data = data[:PARSE_SLICE]
            self.transport.pause_reading()
            self.loop.call_soon(self._feed_backlog)
        self._parse(data)

    def _feed_backlog(self) -> None:
        if self.transport.is_closing():
            self._backlog = _NOTHING
            return
        piece, self._backlog = bytes(self._backlog[:PARSE_SLICE]), self._backlog[PARSE_SLICE:]
        self._parse(piece)
        if self._backlog:
            self.loop.call_soon(self._feed_backlog)
        elif not self.flow.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()

    def _parse(self, data: bytes) -> None:
        super().data_received(data)
        if not self._waiting():
            _waiting_for_headers(self.server_state).pop(self, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        waiting = _waiting_for_headers(self.server_state)
        waiting.pop(self, None)
        if self._waiting() and not self.transport.is_closing():
            waiting[self] = None
        self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        self._backlog = _NOTHING
        _waiting_for_headers(self.server_state).pop(self, None)
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        """No request under way: before the first one's headers, or after a response."""
        return self.cycle is None or self.cycle.response_complete

    def _headers_overdue(self) -> None:
        if self._waiting():
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()


#: bytes of a read handed to h11 per turn of the event loop (`DeadlinedH11Protocol.data_received`)
PARSE_SLICE = 4 * 1024
#: per server, its connections waiting for request headers, longest-waiting first (a dict keeps insertion order)
_WAITING: weakref.WeakKeyDictionary[ServerState, dict[DeadlinedH11Protocol, None]] = weakref.WeakKeyDictionary()


def _waiting_for_headers(state: ServerState) -> dict[DeadlinedH11Protocol, None]:
    return _WAITING.setdefault(state, {})


def _close_longest_waiting(waiting: dict[DeadlinedH11Protocol, None]) -> bool:
    """Close the connection that has waited longest for request headers; False if none waits."""
    while waiting:
        oldest = next(iter(waiting))
        del waiting[oldest]
        if oldest._waiting() and not oldest.transport.is_closing():
            oldest._close()
            return True
    return False


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
        RequestCap(app, limits.max_connections),
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        backlog=limits.backlog,
        limit_concurrency=None,
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
