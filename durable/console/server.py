"""The console as an app (`create_console_app`) and as a server on a background thread (`serve_console`)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from types import FrameType, TracebackType
from urllib.parse import quote

import attrs
import uvicorn
from fastapi import FastAPI

from durable.console.feed import DEFAULT_INTERVAL, TopologyFeed
from durable.console.routes import PREFIX, ROOT_PATHS, admission, mount_console
from durable.console.session import Sessions
from durable.engine import Engine
from durable.http_api import ServerLimits, create_app, server_config
from durable.http_api.app import DEFAULT_BODY_TIMEOUT


@attrs.define(slots=True, eq=False)
class Console:
    """The API with the console mounted; owns the session key and the topology feed (`close` stops it)."""

    app: FastAPI
    sessions: Sessions
    feed: TopologyFeed

    def login_url(self, base_url: str) -> str:
        """The link that opens a session: `base_url` (as `http://host:port`) plus the login key."""
        return f"{base_url.rstrip('/')}/console/login?key={quote(self.sessions.login_key)}"

    def close(self) -> None:
        self.feed.stop()

    def server(self, config: uvicorn.Config) -> uvicorn.Server:
        """A uvicorn server whose shutdown (Ctrl-C, SIGTERM, `should_exit`) first ends the event streams,
        which would otherwise hold the graceful shutdown until its timeout."""
        return _ConsoleServer(config, self)


class _ConsoleServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, console: Console) -> None:
        super().__init__(config)
        self.console = console

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.console.close()
        super().handle_exit(sig, frame)


def create_console_app(
    engine: Engine, token: str, body_timeout: float = DEFAULT_BODY_TIMEOUT, feed_interval: float = DEFAULT_INTERVAL
) -> Console:
    """The HTTP API over `engine` with the console at `/`; starts the topology feed."""
    sessions = Sessions(token)
    app = create_app(engine, token, body_timeout, own_auth_prefixes=(PREFIX,), own_auth_paths=ROOT_PATHS,
                     own_auth_gate=admission(sessions))
    feed = TopologyFeed(engine.topology, feed_interval).start()
    mount_console(app, engine, sessions, feed)
    return Console(app, sessions, feed)


@attrs.define(slots=True, eq=False)
class ConsoleServer:
    """A console served from a background thread: `url` is the login link, `base_url` the server."""

    url: str
    base_url: str
    token: str
    console: Console
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self.console.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.console.close()

    def __enter__(self) -> ConsoleServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve_console(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    limits: ServerLimits | None = None,
    feed_interval: float = DEFAULT_INTERVAL,
) -> ConsoleServer:
    """Serve the API and the console for `engine` from a background thread (port 0: a free one).

    Returns once the server listens; `.url` is the login link, `.stop()` stops the server and the feed.
    `token` is the API's bearer token (default: a new random one, in `.token`).
    """
    limits = limits or ServerLimits()
    token = token or secrets.token_urlsafe(32)
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    console = create_console_app(engine, token, limits.body_timeout, feed_interval)
    server = console.server(server_config(console.app, host, port, limits, "warning"))
    thread = threading.Thread(target=server.run, name="durable-console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            console.close()
            raise RuntimeError(f"the console did not start on {host}:{port}")
        time.sleep(0.01)
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return ConsoleServer(console.login_url(base), base, token, console, server, thread)
