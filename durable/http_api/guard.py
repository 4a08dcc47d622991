"""RequestGuard: what every request passes before any route runs.

In order: the bearer token (constant-time compare; every path but the open
ones), the declared size, then the body, read on the event loop under one
deadline and counted as it arrives, then the body's text and JSON
(`durable.limits.parse_json`: valid UTF-8 without unpaired surrogates, no
NaN or Infinity, bounded depth).  The route sees the body replayed from
memory, and its text in `request.state.body_text`.

Paths under `own_auth_prefixes` (the console's) and the exact
`own_auth_paths` are guarded by their own routes (a session cookie, not the
bearer token) and take bodies that are not JSON (HTML forms): the guard
still bounds their size and deadline and checks that they are UTF-8.

A client that sends its body slowly, or announces more than it sends, gets 408
when the deadline passes and one log line; no thread is held while it dawdles,
so the other routes keep answering.  A client that disconnects mid-body is one
log line too.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from loguru import logger
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durable.exceptions import ValidationError
from durable.limits import PAYLOAD_LIMIT, parse_json


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        token: str,
        body_timeout: float,
        open_paths: frozenset[str],
        own_auth_prefixes: tuple[str, ...] = (),
        own_auth_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.body_timeout = body_timeout
        self.open_paths = open_paths
        self.own_auth_prefixes = own_auth_prefixes
        self.own_auth_paths = own_auth_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if len(headers) < len(scope["headers"]):
            names = [name for name, _ in scope["headers"]]
            twice = sorted({name.decode("latin-1") for name in names if names.count(name) > 1} & _SINGLE_HEADERS)
            if twice:
                # a proxy that reads the first copy and this server, the last, would disagree about the request
                await refuse(400, f"the {twice[0]} header is given more than once")(scope, receive, send)
                return
        own_auth = scope["path"] in self.own_auth_paths or scope["path"].startswith(self.own_auth_prefixes)
        if not own_auth and scope["path"] not in self.open_paths and not hmac.compare_digest(
            headers.get(b"authorization", b""), self.expected
        ):
            await refuse(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and not (length.isdigit() and length.isascii()):
            await refuse(400, "the Content-Length header is not a whole number")(scope, receive, send)
            return
        if length is not None and int(length) > PAYLOAD_LIMIT:
            await refuse(413, f"the body is over the {PAYLOAD_LIMIT:,}-byte limit")(scope, receive, send)
            return
        try:
            with anyio.fail_after(self.body_timeout):
                body = await _read_body(receive)
        except TimeoutError:
            logger.warning(
                "{} {} from {}: no complete body within {:g} s; answered 408",
                scope["method"], scope["path"], _client(scope), self.body_timeout,
            )
            message = f"the request body did not arrive within {self.body_timeout:g} s"
            await refuse(408, message, {"Connection": "close"})(scope, receive, send)
            return
        except _DisconnectedError:
            logger.info("{} {} from {}: the client left before its body was complete", scope["method"],
                        scope["path"], _client(scope))
            return
        except _TooLargeError:
            await refuse(413, f"the body is over the {PAYLOAD_LIMIT:,}-byte limit")(scope, receive, send)
            return
        text = None
        if body.strip():
            try:
                text = body.decode("utf-8")
                if not own_auth:
                    parse_json(text, "the body")
            except UnicodeDecodeError:
                await refuse(400, "the body is not UTF-8 text")(scope, receive, send)
                return
            except ValidationError as error:
                await refuse(400, str(error))(scope, receive, send)
                return
        scope.setdefault("state", {})["body_text"] = text
        await self.app(scope, _replay(body, receive), send)


#: headers a request may carry once only
_SINGLE_HEADERS = frozenset({"authorization", "content-type", "host"})


def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error response: `{"error": "..."}`."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _TooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > PAYLOAD_LIMIT:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """The body once, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _client(scope: Scope) -> Any:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"
