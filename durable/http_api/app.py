"""The HTTP API's routes: complete callbacks and manage executions from other systems.

A FastAPI application over one `Engine`.  Bodies are declared in
`durable.http_api.bodies`, and `/openapi.json` is generated from them and
from the routes below, so the document cannot drift from the code.  Every
route but `/openapi.json` needs `Authorization: Bearer <token>`
(`RequestGuard`).  Engine calls block on the actors' answers, so the routes
are plain functions that FastAPI runs on its thread pool; bodies were read on
the event loop before a thread is taken.

Errors are one JSON object, `{"error": "..."}`, with the status that names the
problem: 400 malformed input, 401 no or wrong token, 404 unknown execution,
callback or route, 405 a method the route does not take, 408 a body that did
not arrive in time, 409 a callback or execution already closed, 413 a body
over 256 KiB (refused before it is parsed; nothing is stored), 503 the server
already answering its limit of requests at once (`RequestCap`).  A 500 means a
bug: the client gets one line naming the error's type, the server log the
traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.types import Scope

from durable import __version__
from durable.core.records import ErrorObject as RecordedError
from durable.engine import Engine
from durable.exceptions import (
    CallbackConflictError,
    DurableExecutionsError,
    PayloadTooLargeError,
    UnknownCallbackError,
    ValidationError,
)
from durable.http_api.bodies import (
    ErrorObject,
    Execution,
    ExecutionList,
    History,
    Problem,
    Started,
    StartExecution,
)
from durable.http_api.guard import Admission, RequestGuard, refuse
from durable.limits import LIST_BYTES, LIST_LIMIT, MAX_NAME_LENGTH, check_token, parse_count
from durable.stores.base import ExecutionQuery, ExecutionStatus

OPEN_PATHS = frozenset({"/openapi.json"})
DEFAULT_BODY_TIMEOUT = 10.0

_MEANING = {
    400: "malformed input: not JSON, not valid text, a bad field, or an unregistered function",
    401: "missing or wrong bearer token",
    404: "unknown execution or callback (a forged or changed callback id is unknown)",
    408: "the request body did not arrive in time",
    409: "the callback or its execution is already closed; the first outcome stands",
    413: "the body is over 256 KiB; nothing was stored",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": _MEANING[status]} for status in (*statuses, 401, 408, 413)}


class SafeJSONResponse(JSONResponse):
    """JSON that always renders: a record stored before validation existed cannot turn a read into a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (UnicodeEncodeError, ValueError):
            return json.dumps(_finite(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def create_app(
    engine: Engine,
    token: str,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    own_auth_prefixes: tuple[str, ...] = (),
    own_auth_paths: frozenset[str] = frozenset(),
    own_auth_gate: Callable[[Scope], Admission] | None = None,
) -> FastAPI:
    """The API over `engine`.  Routes that another layer adds under `own_auth_prefixes` (or at
    `own_auth_paths`) authenticate themselves (the console's session cookie) and take non-JSON bodies;
    `own_auth_gate` judges their requests from the headers, before a byte of body is read."""
    check_token(token)
    app = FastAPI(
        title="durable",
        version=__version__,
        description="Complete callbacks and manage durable executions. Every operation needs the bearer token "
        "`durable serve` printed or read from DURABLE_API_TOKEN; /openapi.json itself does not.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        default_response_class=SafeJSONResponse,
        strict_content_type=False,
        dependencies=[Depends(_known_query_parameters_only)],
    )
    app.add_middleware(
        RequestGuard, token=token, body_timeout=body_timeout, open_paths=OPEN_PATHS,
        own_auth_prefixes=own_auth_prefixes, own_auth_paths=own_auth_paths, own_auth_gate=own_auth_gate,
    )

    @app.post(
        "/callbacks/{callback_id}/succeed", status_code=204, response_class=Response, responses=_errors(400, 404, 409),
        summary="Complete a callback with a result: the body, a JSON document kept verbatim (none: no result)",
        openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {}}}}},
    )
    def succeed(callback_id: str, request: Request) -> Response:
        engine.send_callback_success(callback_id, request.state.body_text)
        return Response(status_code=204)

    @app.post(
        "/callbacks/{callback_id}/fail", status_code=204, response_class=Response, responses=_errors(400, 404, 409),
        summary="Fail a callback with an error object (none: an error with no details)",
    )
    def fail(callback_id: str, error: ErrorObject | None = None) -> Response:
        engine.send_callback_failure(callback_id, _recorded(error))
        return Response(status_code=204)

    @app.post(
        "/callbacks/{callback_id}/heartbeat", status_code=204, response_class=Response,
        responses=_errors(400, 404, 409), summary="Push the callback's heartbeat deadline forward",
    )
    def heartbeat(callback_id: str) -> Response:
        engine.send_callback_heartbeat(callback_id)
        return Response(status_code=204)

    @app.post(
        "/executions", status_code=201, response_model=Started, responses=_errors(400),
        summary="Start an execution of a registered function (a repeated name returns the first one's id)",
    )
    def start(body: StartExecution) -> Any:
        execution_id = engine.start(body.function, body.input, body.name, body.execution_timeout)
        return SafeJSONResponse({"execution_id": execution_id}, status_code=201)

    @app.get("/executions", response_model=ExecutionList, responses=_errors(400), summary="Executions, newest first")
    def listing(
        request: Request,
        status: ExecutionStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=LIST_LIMIT, description="how many (ASCII digits)")] = 100,
    ) -> Any:
        raw = request.query_params.get("limit")
        count = parse_count(raw, "query parameter 'limit'", 1, LIST_LIMIT) if raw is not None else limit
        executions, truncated = _listing(engine, status, count)
        return SafeJSONResponse({"executions": executions, "truncated": truncated})

    @app.get("/executions/{execution_id}", response_model=Execution, responses=_errors(404), summary="One execution")
    def status(execution_id: str) -> Any:
        return SafeJSONResponse(engine.status(execution_id).to_dict())

    @app.get(
        "/executions/{execution_id}/history", response_model=History, responses=_errors(404),
        summary="The execution's history, as conformance-schema events",
    )
    def history(execution_id: str) -> Any:
        return SafeJSONResponse({"events": engine.history(execution_id)})

    @app.post(
        "/executions/{execution_id}/stop", response_model=Execution, responses=_errors(400, 404),
        summary="Stop a running execution (optional body: the error to record)",
    )
    def stop(execution_id: str, error: ErrorObject | None = None) -> Any:
        return SafeJSONResponse(engine.stop(execution_id, _recorded(error)).to_dict())

    app.add_exception_handler(RequestValidationError, _invalid_body)
    app.add_exception_handler(DurableExecutionsError, _engine_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    _describe_security_and_functions(app, engine)
    return app


def _listing(engine: Engine, status: ExecutionStatus | None, count: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to `count` executions, newest first, read a few at a time; True: it stopped at LIST_BYTES of text."""
    executions: list[dict[str, Any]] = []
    size, before = 0, None
    while len(executions) < count:
        wanted = min(_LIST_PAGE, count - len(executions))
        page = engine.page(ExecutionQuery(status, before=before, limit=wanted))
        for record in page:
            execution = record.to_dict()
            size += len(json.dumps(execution))
            if size > LIST_BYTES and executions:
                return executions, True
            executions.append(execution)
        if len(page) < wanted:
            break
        before = page[-1].cursor
    return executions, False


#: executions read from the store at a time by a listing: its memory is about this many inputs and results
_LIST_PAGE = 20


def _known_query_parameters_only(request: Request) -> None:
    """A parameter the route does not declare is a mistake worth naming (`?limt=5`), not something to ignore;
    so is one given twice (`?limit=abc&limit=5`), which readers would take as the first or the last."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise ValidationError(f"query parameter {name[:40]!r} is given more than once")
        seen.add(name)
    route = request.scope.get("route")
    known = {param.alias for param in route.dependant.query_params} if isinstance(route, APIRoute) else set()
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        takes = ", ".join(sorted(known)) or "none"
        raise ValidationError(f"unknown query parameter(s) {names}; this route takes {takes}")


def _recorded(error: ErrorObject | None) -> RecordedError | None:
    return RecordedError.from_dict(error.model_dump(exclude_none=True)) if error is not None else None


_PHRASES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "finite_number": "must be a finite number",
    "enum": "must be one of the listed values",
}


async def _invalid_body(request: Request, error: Exception) -> Response:
    """Pydantic's first complaint, as one line naming the field: `field 'name' must be a string`."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    kind = "query parameter" if location[:1] == ["query"] else "field"
    where = location[1:] if location[:1] in (["body"], ["query"], ["path"]) else location
    subject = f"{kind} {'.'.join(where)!r}" if where else "the body"
    phrase = _PHRASES.get(first.get("type", ""))
    sent_as = request.headers.get("content-type", "")
    if subject == "the body" and phrase == "must be a JSON object" and "json" not in sent_as.lower():
        # curl -d sends a form: the body may be fine JSON, announced as something else
        shown = repr(sent_as[:60]) if sent_as else "none"
        return refuse(400, f"the body must be a JSON object sent as Content-Type: application/json (got {shown})")
    if phrase is None:
        phrase = str(first.get("msg", "is invalid"))
        phrase = f"is invalid: {phrase[:1].lower()}{phrase[1:]}"
    return refuse(400, f"{subject} {phrase}")


async def _engine_error(request: Request, error: Exception) -> Response:
    if isinstance(error, UnknownCallbackError):
        return refuse(404, "unknown callback")
    if isinstance(error, CallbackConflictError):
        return refuse(409, str(error))
    if isinstance(error, PayloadTooLargeError):
        return refuse(413, str(error))
    if isinstance(error, ValidationError) and str(error).startswith("unknown execution"):
        return refuse(404, str(error))
    if isinstance(error, ValidationError):
        return refuse(400, str(error))
    return await _unexpected(request, error)


async def _http_error(request: Request, error: Exception) -> Response:
    """The framework's own refusals: no such route (404), a method the route does not take (405)."""
    assert isinstance(error, HTTPException)
    path = request.url.path if len(request.url.path) <= MAX_NAME_LENGTH else f"{request.url.path[:MAX_NAME_LENGTH]}..."
    where = f"{request.method} {path}"
    if error.status_code == 404:
        message = f"no route for {where} (the routes are listed at /openapi.json)"
    elif error.status_code == 405:
        allowed = ", ".join(sorted({
            method
            for route in request.app.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods or ()
        }))
        message = f"{where} is not allowed; {path} takes {allowed or 'other methods'}"
        return refuse(405, message, {"Allow": allowed})
    else:
        message = str(error.detail)
    return refuse(error.status_code, message, dict(error.headers or {}))


async def _unexpected(request: Request, error: Exception) -> Response:
    logger.opt(exception=error).error("{} {} failed", request.method, request.url.path)
    return refuse(500, f"internal error: {type(error).__name__}")


def _describe_security_and_functions(app: FastAPI, engine: Engine) -> None:
    """Declare the bearer scheme, that /openapi.json alone needs no token, and which functions can start."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            document["security"] = [{"bearer": []}]
            for path, methods in document["paths"].items():
                for operation in methods.values():
                    operation.get("responses", {}).pop("422", None)
                    if path in OPEN_PATHS:
                        operation["security"] = []
            app.openapi_schema = document
        function = app.openapi_schema["components"]["schemas"]["StartExecution"]["properties"]["function"]
        function["enum"] = engine.registry.names()
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
