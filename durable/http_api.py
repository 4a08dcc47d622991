"""The HTTP API: complete callbacks and manage executions from other systems.

A Starlette application over one `Engine`, served by uvicorn (`durable
serve`).  Every route but `/openapi.json` needs `Authorization: Bearer
<token>`.  Engine calls block on the actors' answers, so they run on
Starlette's thread pool, never on the event loop: the callback routes read
the body on the loop and hand only the engine call to the pool; the others
are plain functions that run there whole.  The pool is widened at start-up
so a thousand completions in flight do not queue behind forty.

Errors are one JSON object, `{"error": "..."}`, with the status that names
the problem: 400 malformed input, 401 no or wrong token, 404 unknown
execution or callback (or route), 405 a method the route does not take, 409
a callback already closed, 413 a body over 256 KiB (refused before it is
parsed; nothing is stored), 500 anything else (the server log has the
traceback; a response never does).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio.from_thread
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from durable.engine import Engine
from durable.engine.engine import PAYLOAD_LIMIT
from durable.exceptions import (
    CallbackConflictError,
    DurableExecutionsError,
    PayloadTooLargeError,
    UnknownCallbackError,
    ValidationError,
)
from durable.lambda_service import ErrorObject
from durable.stores.base import ExecutionRecord, ExecutionStatus

THREADS = 256
LIST_LIMIT = 1000
_START_FIELDS = ("function", "input", "name", "execution_timeout")
_ERROR_FIELDS = ("ErrorType", "ErrorMessage", "ErrorData", "StackTrace")


@contextlib.contextmanager
def serving_in_background(engine: Engine, token: str, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the API from a background thread (port 0: a free one); yields the base URL.

    For programs that embed the engine, and for tests against a real server.
    """
    import uvicorn

    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(engine, token), host=host, port=port, log_level="warning", backlog=4096)
    server = uvicorn.Server(config)
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


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(engine: Engine, token: str) -> Starlette:
    if not token:
        raise ValueError("the HTTP API needs a non-empty token")

    def callback(action: Callable[[str, bytes], None]) -> Callable[[Request], Awaitable[Response]]:
        """The hot path: one hop to the pool per completion (the body is read on the loop)."""

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            await run_in_threadpool(action, request.path_params["callback_id"], body)
            return Response(status_code=204)

        return endpoint

    def succeed(callback_id: str, body: bytes) -> None:
        engine.send_callback_success(callback_id, _json_text(body) if body.strip() else None)

    def fail(callback_id: str, body: bytes) -> None:
        engine.send_callback_failure(callback_id, _error_object(body))

    def heartbeat(callback_id: str, body: bytes) -> None:
        engine.send_callback_heartbeat(callback_id)

    def start(request: Request) -> Response:
        fields = _json_object(_body(request), "the request")
        _only(fields, _START_FIELDS, "the request")
        function = fields.get("function")
        if not isinstance(function, str) or not function:
            raise ApiError(400, "field 'function' (the registered function's name) is required")
        name = fields.get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "field 'name' (the idempotency key) must be a string")
        timeout = fields.get("execution_timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise ApiError(400, "field 'execution_timeout' must be a number of seconds")
        execution_id = engine.start(function, fields.get("input"), name, timeout)
        return JSONResponse({"execution_id": execution_id}, status_code=201)

    def listing(request: Request) -> Response:
        status_text = request.query_params.get("status")
        try:
            status = ExecutionStatus(status_text) if status_text else None
        except ValueError:
            known = ", ".join(s.value for s in ExecutionStatus)
            raise ApiError(400, f"query parameter 'status' must be one of {known}, got {status_text!r}") from None
        limit_text = request.query_params.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= LIST_LIMIT:
            raise ApiError(400, f"query parameter 'limit' must be a whole number from 1 to {LIST_LIMIT}")
        return JSONResponse({"executions": [_record(r) for r in engine.list(status, int(limit_text))]})

    def executions(request: Request) -> Response:
        """One route for both methods, so a wrong one is answered 405 with `Allow: GET, POST`."""
        return start(request) if request.method == "POST" else listing(request)

    def status(request: Request) -> Response:
        return JSONResponse(_record(engine.status(request.path_params["execution_id"])))

    def history(request: Request) -> Response:
        return JSONResponse({"events": engine.history(request.path_params["execution_id"])})

    def stop(request: Request) -> Response:
        error = _error_object(_body(request))
        stopped = engine.stop(request.path_params["execution_id"], ErrorObject.from_dict(error) if error else None)
        return JSONResponse(_record(stopped))

    def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    routes = [
        Route("/callbacks/{callback_id}/succeed", callback(succeed), methods=["POST"]),
        Route("/callbacks/{callback_id}/fail", callback(fail), methods=["POST"]),
        Route("/callbacks/{callback_id}/heartbeat", callback(heartbeat), methods=["POST"]),
        Route("/executions", executions, methods=["GET", "POST"]),
        Route("/executions/{execution_id}", status, methods=["GET"]),
        Route("/executions/{execution_id}/history", history, methods=["GET"]),
        Route("/executions/{execution_id}/stop", stop, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield

    return Starlette(
        routes=routes,
        middleware=[Middleware(_Guard, token=token)],
        exception_handlers={
            ApiError: _api_error,
            DurableExecutionsError: _engine_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )


class _Guard:
    """Checks the bearer token and the body size before any route runs."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["path"] != "/openapi.json" and not hmac.compare_digest(
            headers.get(b"authorization", b""), self.expected
        ):
            response = _error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and not length.isdigit():
            await _error(400, "the Content-Length header is not a whole number")(scope, receive, send)
            return
        if length is not None and int(length) > PAYLOAD_LIMIT:
            await _error(413, f"the body is over the {PAYLOAD_LIMIT:,}-byte limit")(scope, receive, send)
            return
        await self.app(scope, _limited(receive), send)


def _limited(receive: Receive) -> Receive:
    """Count the body as it arrives: a chunked body that grows past the limit is cut off."""
    seen = 0

    async def counting() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > PAYLOAD_LIMIT:
                raise ApiError(413, f"the body is over the {PAYLOAD_LIMIT:,}-byte limit")
        return message

    return counting


def _body(request: Request) -> bytes:
    """The request body, read on the worker thread (the route runs there)."""
    return anyio.from_thread.run(request.body)


def _json_text(body: bytes) -> str:
    try:
        text = body.decode()
        json.loads(text)
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    except ValueError as error:
        raise ApiError(400, f"the body is not JSON: {error}") from None
    return text


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    value = json.loads(_json_text(body))
    if not isinstance(value, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return value


def _only(fields: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ApiError(400, f"{what} has unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


def _error_object(body: bytes) -> dict[str, Any] | None:
    """An error object `{"ErrorType", "ErrorMessage", "ErrorData"?, "StackTrace"?}`; None for an empty body."""
    if not body.strip():
        return None
    error = _json_object(body, "the error")
    _only(error, _ERROR_FIELDS, "the error")
    for field in ("ErrorType", "ErrorMessage", "ErrorData"):
        if error.get(field) is not None and not isinstance(error[field], str):
            raise ApiError(400, f"the error's field {field!r} must be a string")
    trace = error.get("StackTrace")
    if trace is not None and (not isinstance(trace, list) or not all(isinstance(line, str) for line in trace)):
        raise ApiError(400, "the error's field 'StackTrace' must be a list of strings")
    return error


def _record(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "execution_id": record.execution_id,
        "function": record.function_name,
        "name": record.name,
        "status": record.status.value,
        "input": record.input,
        "result": record.result,
        "error": record.error.to_dict() if record.error else None,
        "created": record.created,
        "ended": record.ended,
        "invocations": record.invocations,
        "parent_execution_id": record.parent_execution_id,
        "tenant_id": record.tenant_id,
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return _error(error.status, error.message)


async def _engine_error(request: Request, error: Exception) -> Response:
    if isinstance(error, UnknownCallbackError):
        return _error(404, "unknown callback")
    if isinstance(error, CallbackConflictError):
        return _error(409, str(error))
    if isinstance(error, PayloadTooLargeError):
        return _error(413, str(error))
    if isinstance(error, ValidationError) and str(error).startswith("unknown execution"):
        return _error(404, str(error))
    if isinstance(error, ValidationError):
        return _error(400, str(error))
    return _error(500, f"{type(error).__name__}: {error}")


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals: no such route (404), a method the route does not take (405)."""
    assert isinstance(error, HTTPException)
    where = f"{request.method} {request.url.path}"
    if error.status_code == 404:
        message = f"no route for {where} (the routes are listed at /openapi.json)"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{where} is not allowed; {request.url.path} takes {allowed or 'other methods'}"
    else:
        message = str(error.detail)
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> Response:
    """A bug or a broken store: the client gets one line, the server log gets the traceback."""
    return _error(500, f"internal error: {type(error).__name__}")


def _operation(summary: str, ok: str, errors: tuple[int, ...], body: dict[str, Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "done"}}
    for status in (*errors, 405, 500):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    return operation


_CALLBACK_ERRORS = (400, 401, 404, 409, 413)
_ERROR_TEXT = {
    400: "malformed input (not JSON, not UTF-8, or a bad field)",
    401: "missing or wrong bearer token",
    404: "unknown execution or callback (a forged or changed callback id is unknown)",
    405: "the route does not take this method (the Allow header lists the ones it takes)",
    409: "the callback is already completed or timed out; the first outcome stands",
    413: "the body is over 256 KiB; nothing was stored",
    500: "a fault in the server or its store; the message names its type, the server log has the detail",
}
_ID = {"name": "callback_id", "in": "path", "required": True, "schema": {"type": "string"}}
_EXECUTION = {"name": "execution_id", "in": "path", "required": True, "schema": {"type": "string"}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "durable",
        "version": "1",
        "description": "Complete callbacks and manage durable executions. Every operation needs the bearer "
        "token `durable serve` printed or read from DURABLE_API_TOKEN; /openapi.json itself does not.",
    },
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "ErrorObject": {
                "type": "object",
                "properties": {
                    "ErrorType": {"type": "string"},
                    "ErrorMessage": {"type": "string"},
                    "ErrorData": {"type": "string"},
                    "StackTrace": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "responses": {
            f"E{status}": {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for status, text in _ERROR_TEXT.items()
        },
    },
    "paths": {
        "/callbacks/{callback_id}/succeed": {
            "parameters": [_ID],
            "post": _operation(
                "Complete a callback with a result: the body, a JSON document kept verbatim (empty: no result)",
                "204", _CALLBACK_ERRORS,
                {"required": False, "content": {"application/json": {"schema": {}}}},
            ),
        },
        "/callbacks/{callback_id}/fail": {
            "parameters": [_ID],
            "post": _operation(
                "Fail a callback with an error", "204", _CALLBACK_ERRORS,
                {"required": False, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorObject"}}}},
            ),
        },
        "/callbacks/{callback_id}/heartbeat": {
            "parameters": [_ID],
            "post": _operation("Push the callback's heartbeat deadline forward", "204", (401, 404, 409, 413)),
        },
        "/executions": {
            "post": _operation(
                "Start an execution (a repeated name returns the first execution's id)", "201", (400, 401, 413),
                {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["function"],
                    "properties": {
                        "function": {"type": "string"},
                        "input": {},
                        "name": {"type": "string"},
                        "execution_timeout": {"type": "number"},
                    },
                }}}},
            ),
            "get": {
                **_operation("List executions, newest first", "200", (400, 401)),
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in ExecutionStatus]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
                ],
            },
        },
        "/executions/{execution_id}": {
            "parameters": [_EXECUTION],
            "get": _operation("One execution", "200", (401, 404)),
        },
        "/executions/{execution_id}/history": {
            "parameters": [_EXECUTION],
            "get": _operation("The execution's history, as conformance-schema events", "200", (401, 404)),
        },
        "/executions/{execution_id}/stop": {
            "parameters": [_EXECUTION],
            "post": _operation(
                "Stop a running execution (optional body: an error object)", "200", (400, 401, 404, 413),
                {"required": False, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorObject"}}}},
            ),
        },
        "/openapi.json": {"get": {**_operation("This document (no token needed)", "200", ()), "security": []}},
    },
}
