"""RequestGuard: what every request passes before any route runs.

In order: the bearer token (constant-time compare; every path but the open
ones), the declared size, then the body, read on the event loop under one
deadline and counted as it arrives (bytes and pieces), then the body's text
and JSON (`durable.limits.parse_json`: valid UTF-8 without unpaired
surrogates, no NaN or Infinity, bounded depth; a large body is checked on a
worker thread so the event loop keeps answering).  The route sees the body
replayed from memory, and its text in `request.state.body_text`.

Paths under `own_auth_prefixes` (the console's) and the exact
`own_auth_paths` are guarded by their own routes (a session cookie, not the
bearer token) and take bodies that are not JSON (HTML forms): the guard
still bounds their size and deadline and checks that they are UTF-8, and
asks `own_auth_gate` before reading a byte of body, so a visitor without a
session can be refused, or held to a small body, before it costs anything.

A client that sends its body slowly, or announces more than it sends, gets 408
when the deadline passes and one log line; no thread is held while it dawdles,
so the other routes keep answering.  A client that disconnects mid-body is one
log line too.  A body cut off for its size or its number of pieces closes the
connection, so the rest of it is not parsed only to be thrown away.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
import attrs
from loguru import logger
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durable.exceptions import ValidationError
from durable.limits import PAYLOAD_LIMIT, parse_json

#: `http.request` messages a body may arrive in: a body sent a byte per chunk would otherwise cost a message
#: (and a loop turn) per byte
MAX_BODY_PIECES = 4096
#: bodies larger than this are checked (`parse_json`) on a worker thread, not on the event loop
PARSE_ON_LOOP_BYTES = 16 * 1024
#: worker threads checking large bodies at once
PARSE_THREADS = 2


@attrs.frozen(slots=True)
class Admission:
    """What a path that authenticates itself decides about a request from its headers, before its body is read.

    `refusal`, when set, is answered instead (the body is never read); else the body may be `body_limit` bytes.
    """

    refusal: ASGIApp | None = None
    body_limit: int = PAYLOAD_LIMIT


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        token: str,
        body_timeout: float,
        open_paths: frozenset[str],
        own_auth_prefixes: tuple[str, ...] = (),
        own_auth_paths: frozenset[str] = frozenset(),
        own_auth_gate: Callable[[Scope], Admission] | None = None,
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.body_timeout = body_timeout
        self.open_paths = open_paths
        self.own_auth_prefixes = own_auth_prefixes
        self.own_auth_paths = own_auth_paths
        self.own_auth_gate = own_auth_gate
        self._limiter: anyio.CapacityLimiter | None = None

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
        # a chunked body that is refused unread would still be parsed, chunk by chunk, only to be dropped
        unread = {"Connection": "close"} if b"chunked" in headers.get(b"transfer-encoding", b"").lower() else {}
        own_auth = scope["path"] in self.own_auth_paths or scope["path"].startswith(self.own_auth_prefixes)
        limit = PAYLOAD_LIMIT
        if own_auth and self.own_auth_gate is not None:
            admission = self.own_auth_gate(scope)
            if admission.refusal is not None:
                await admission.refusal(scope, receive, send)
                return
            limit = min(limit, admission.body_limit)
        elif not own_auth and scope["path"] not in self.open_paths and not hmac.compare_digest(
            headers.get(b"authorization", b""), self.expected
        ):
            await refuse(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer", **unread})(
                scope, receive, send
            )
            return
        length = headers.get(b"content-length")
        if length is not None and not (length.isdigit() and length.isascii()):
            await refuse(400, "the Content-Length header is not a whole number")(scope, receive, send)
            return
        if length is not None and int(length) > limit:
            await refuse(413, f"the body is over the {limit:,}-byte limit")(scope, receive, send)
            return
        try:
            with anyio.fail_after(self.body_timeout):
                body = await _read_body(receive, limit)
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
            await refuse(413, f"the body is over the {limit:,}-byte limit", {"Connection": "close"})(
                scope, receive, send
            )
            return
        except _TooManyPiecesError:
            message = (f"the body arrived in more than {MAX_BODY_PIECES:,} pieces; "
                       "send it in fewer, larger chunks")
            await refuse(400, message, {"Connection": "close"})(scope, receive, send)
            return
        text = None
        if body and not body.strip() and not own_auth:
            await refuse(400, "the body is only whitespace: send a JSON document, or no body at all")(
                scope, receive, send
            )
            return
        if body.strip():
            try:
                text = body.decode("utf-8")
                if not own_auth:
                    await _checked_json(text, self._parsers())
            except UnicodeDecodeError:
                await refuse(400, "the body is not UTF-8 text")(scope, receive, send)
                return
            except ValidationError as error:
                await refuse(400, str(error))(scope, receive, send)
                return
        scope.setdefault("state", {})["body_text"] = text
        await self.app(scope, _replay(body, receive), send)

    def _parsers(self) -> anyio.CapacityLimiter:
        """Made on first use, on the event loop that serves the app."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(PARSE_THREADS)
        return self._limiter


#: headers a request may carry once only
_SINGLE_HEADERS = frozenset({"authorization", "content-type", "host"})


def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error response: `{"error": "..."}`."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _checked_json(text: str, limiter: anyio.CapacityLimiter) -> None:
    """`parse_json`, on a worker thread for a large body: a 256 KiB document of tiny arrays takes a
    fifth of a second to check, which on the event loop would stall every other request.  At most
    `limiter`'s threads do so at once: each holds the GIL while it works, so more would only take turns
    from the event loop and the engine's threads without finishing sooner."""
    if len(text) <= PARSE_ON_LOOP_BYTES:
        parse_json(text, "the body")
    else:
        await anyio.to_thread.run_sync(parse_json, text, "the body", limiter=limiter)


class _TooLargeError(Exception):
    pass


class _TooManyPiecesError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        if len(chunks) >= MAX_BODY_PIECES:
            raise _TooManyPiecesError


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
