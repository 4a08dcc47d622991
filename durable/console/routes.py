"""The console's routes, mounted on the HTTP API's FastAPI app (same port, same token).

| route | what |
|---|---|
| `GET /` | to the executions list |
| `GET /console/login?key=…` | the printed login link (a key derived from the token): sets the session cookie |
| `POST /console/login` | the same with the bearer token typed into a form (never taken from a URL) |
| `POST /console/logout` | ends the session |
| `GET /console/executions` | the list: `status`, `function`, `name` (prefix), `before` (keyset cursor) |
| `POST /console/executions/stop` | bulk stop of the checked executions (asks first) |
| `GET /console/executions/{id}` | one execution: facts, input, outcome, open callbacks, timeline, history |
| `POST /console/executions/{id}/stop`, `…/rerun` | stop, or start again with the same input (asks first) |
| `POST /console/executions/{id}/callbacks/{op}/succeed`, `…/fail` | complete an open callback |
| `GET /console/topology` | the live actor graph; `GET /console/topology/feed` is its event stream |
| `GET /console/ping` | 204: the pages' "can I reach the server" probe |
| `GET /console/static/…` | the stylesheet, scripts and the vendored Cytoscape.js |
| `GET /topology` | the latest topology sample as JSON (bearer token, like the rest of the API) |

A page without a valid session is answered 303 to the login page, which
says how to get the link; a POST without one (but the login form's) is
answered so by the guard before its body is read (`admission`), and any
other request without one may bring at most 4 KiB of body.  Every POST checks the session's CSRF token and,
when the browser sends one, that the Origin is this server.  Actions make
the same engine calls as the API, so the same rules hold (a callback
completed twice: the second is refused, and the page says so).  Errors on
console paths render a one-line HTML page; the API's stay JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durable.console import pages, timeline
from durable.console.feed import TopologyFeed
from durable.console.session import COOKIE, Session, Sessions
from durable.core.records import ErrorObject
from durable.engine import Engine
from durable.exceptions import CallbackConflictError, UnknownCallbackError, ValidationError
from durable.http_api.guard import Admission
from durable.limits import MAX_NAME_LENGTH, parse_json
from durable.stores.base import ExecutionQuery, ExecutionStatus

PREFIX = "/console/"
ROOT_PATHS = frozenset({"/", "/console"})
LOGIN = "/console/login"
PAGE_SIZE = 50
MAX_BULK = 500
#: the body a request without a session may bring: at most a login form (one token field)
ANONYMOUS_BODY_LIMIT = 4 * 1024
#: fields in the login form, and in any other form (a bulk stop names up to MAX_BULK executions)
LOGIN_FIELDS = 10
FORM_FIELDS = 1000
#: a topology frame's number, as `Last-Event-ID` resumes it
_EVENT_ID = re.compile(r"[0-9]{1,11}")
#: the one inline style the vendored Cytoscape.js adds (a <style> making its container position: relative),
#: allowed by its hash rather than by 'unsafe-inline'
CYTOSCAPE_STYLE = ".__________cytoscape_container { position: relative; }"
CSP = (
    "default-src 'self'; script-src 'self'; "
    f"style-src 'self' 'sha256-{base64.b64encode(hashlib.sha256(CYTOSCAPE_STYLE.encode()).digest()).decode()}'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ConsoleError(Exception):
    """A refusal a console route renders as a one-line page with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _NeedsLoginError(Exception):
    pass


class SecurityHeaders:
    """Adds the console's headers (CSP and friends; no caching of pages) to every console response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in ROOT_PATHS or path.startswith(PREFIX)):
            await self.app(scope, receive, send)
            return
        static = path.startswith(PREFIX + "static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)


def admission(sessions: Sessions) -> Callable[[Scope], Admission]:
    """The guard's question about a console request, from its headers alone: does it carry a session?

    Without one, a POST other than the login form's is sent to the login page with its body unread (and the
    connection closed, so a body trickled in tiny chunks is not parsed either); the login form and pages
    may bring at most ANONYMOUS_BODY_LIMIT bytes.  So nobody without the token can make the server read
    more than a login form.
    """
    admitted = Admission()
    anonymous = Admission(body_limit=ANONYMOUS_BODY_LIMIT)

    def admit(scope: Scope) -> Admission:
        cookie = Headers(scope=scope).get("cookie")
        if sessions.open(cookie_parser(cookie).get(COOKIE) if cookie else None) is not None:
            return admitted
        if scope["method"] in ("GET", "HEAD") or (scope["method"] == "POST" and scope["path"] == LOGIN):
            return anonymous
        return Admission(refusal=RedirectResponse(LOGIN, status_code=303, headers={"Connection": "close"}))

    return admit


def mount_console(app: FastAPI, engine: Engine, sessions: Sessions, feed: TopologyFeed) -> None:
    """Add the console's routes, static files, headers and HTML error pages to the API's app."""
    app.add_middleware(SecurityHeaders)
    static = resources.files("durable.console") / "static"
    app.mount("/console/static", StaticFiles(directory=str(static)), name="console-static")

    def session_of(request: Request) -> Session:
        session = sessions.open(request.cookies.get(COOKIE))
        if session is None:
            raise _NeedsLoginError
        return session

    def form_of(request: Request, session: Session) -> dict[str, list[str]]:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise ConsoleError(403, f"refused: this form came from {origin}, not from this server")
        form = _form(request, FORM_FIELDS, keep_blank_values=True)
        if not Sessions.csrf_ok(session, next(iter(form.get("csrf", [])), None)):
            raise ConsoleError(403, "refused: the form's CSRF token is missing or wrong; reload the page and try again")
        return form

    def confirmed(form: dict[str, list[str]]) -> bool:
        return form.get("confirmed") == ["yes"]

    # ----- entry, login, logout

    @app.get("/", include_in_schema=False)
    @app.get("/console", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/executions", status_code=303)

    @app.get("/console/login", include_in_schema=False)
    def login_page(request: Request, key: str | None = None) -> Response:
        if key is None:
            return html(pages.login_help())
        if not sessions.admits_link(key):
            return html(pages.login_help("This login link is not valid for this server: it changes with the "
                                         "server's token. Use the link the running `durable serve` printed."), 403)
        return _logged_in(sessions)

    @app.post("/console/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        form = _form(request, LOGIN_FIELDS)
        if not sessions.admits((form.get("token") or [""])[0]):
            return html(pages.login_help("That is not this server's bearer token."), 403)
        return _logged_in(sessions)

    @app.post("/console/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        form_of(request, session_of(request))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/console/ping", include_in_schema=False)
    def ping() -> Response:
        return Response(status_code=204)

    # ----- executions

    @app.get("/console/executions", include_in_schema=False)
    def executions(
        request: Request, status: str | None = None, function: str | None = None, name: str | None = None,
        before: str | None = None, notice: str | None = None,
    ) -> Response:
        session = session_of(request)
        query = ExecutionQuery(
            status=_status(status), function_name=_text(function, "function"), name_prefix=_text(name, "name"),
            before=_cursor(before), limit=PAGE_SIZE + 1,
        )
        began = time.perf_counter()
        page = engine.page(query)
        took = (time.perf_counter() - began) * 1000
        shown = page[:PAGE_SIZE]
        more = f"{shown[-1].created!r}~{shown[-1].execution_id}" if len(page) > PAGE_SIZE else None
        filters = {"status": status or "", "function": function or "", "name": name or "", "before": before or ""}
        return html(pages.executions_page(shown, filters, more, session.csrf, engine.registry.names(),
                                          _NOTICES.get(notice or ""), took))

    @app.post("/console/executions/stop", include_in_schema=False)
    def bulk_stop(request: Request) -> Response:
        session = session_of(request)
        form = form_of(request, session)
        chosen = list(dict.fromkeys(form.get("execution_id", [])))
        if not chosen:
            return RedirectResponse("/console/executions?notice=none-selected", status_code=303)
        if len(chosen) > MAX_BULK:
            raise ConsoleError(400, f"at most {MAX_BULK} executions can be stopped at once, got {len(chosen)}")
        if not confirmed(form):
            return html(pages.confirm_page(f"Stop {len(chosen)} execution(s)?", "/console/executions/stop",
                                           {"execution_id": chosen}, session.csrf, "Stop them",
                                           "/console/executions", chosen))
        stopped = 0
        for execution_id in chosen:
            try:
                before = engine.status(execution_id)
                if not before.status.is_terminal and engine.stop(execution_id).status is ExecutionStatus.STOPPED:
                    stopped += 1
            except ValidationError:
                continue
        return RedirectResponse(f"/console/executions?notice=stopped-{min(stopped, 999)}", status_code=303)

    @app.get("/console/executions/{execution_id}", include_in_schema=False)
    def execution(request: Request, execution_id: str, notice: str | None = None) -> Response:
        session = session_of(request)
        return _execution_response(engine, execution_id, session, _NOTICES.get(notice or ""))

    @app.post("/console/executions/{execution_id}/stop", include_in_schema=False)
    def stop(request: Request, execution_id: str) -> Response:
        session = session_of(request)
        form = form_of(request, session)
        record = _require(engine, execution_id)
        if not confirmed(form):
            here = f"/console/executions/{execution_id}"
            return html(pages.confirm_page(f"Stop execution {execution_id}?", f"{here}/stop", {}, session.csrf,
                                           "Stop it", here))
        if record.status.is_terminal:
            return _execution_response(engine, execution_id, session,
                                       problem=f"refused: the execution already ended as {record.status.value}",
                                       status=409)
        engine.stop(execution_id)
        return RedirectResponse(f"/console/executions/{execution_id}?notice=stopped", status_code=303)

    @app.post("/console/executions/{execution_id}/rerun", include_in_schema=False)
    def rerun(request: Request, execution_id: str) -> Response:
        session = session_of(request)
        form = form_of(request, session)
        record = _require(engine, execution_id)
        if not confirmed(form):
            return html(pages.confirm_page(
                f"Run {record.function_name} again with the same input?", f"/console/executions/{execution_id}/rerun",
                {}, session.csrf, "Run it", f"/console/executions/{execution_id}"))
        payload = json.loads(record.input) if record.input is not None else None
        new_id = engine.start(record.function_name, payload)
        return RedirectResponse(f"/console/executions/{new_id}?notice=started", status_code=303)

    @app.post("/console/executions/{execution_id}/callbacks/{operation_id}/{action}", include_in_schema=False)
    def callback(request: Request, execution_id: str, operation_id: str, action: str) -> Response:
        session = session_of(request)
        form = form_of(request, session)
        if action not in ("succeed", "fail"):
            raise ConsoleError(404, f"no callback action {action!r}: use succeed or fail")
        _require(engine, execution_id)
        op = engine.store.get_operation(execution_id, operation_id)
        if op is None or op.callback_id is None:
            raise ConsoleError(404, f"execution {execution_id} has no callback at operation {operation_id!r}")
        try:
            if action == "succeed":
                text = (form.get("result") or [""])[0].strip()
                if text:
                    parse_json(text, "the result")
                engine.send_callback_success(op.callback_id, text or None)
            else:
                error_type = (form.get("error_type") or [""])[0].strip() or None
                message = (form.get("error_message") or [""])[0].strip() or None
                engine.send_callback_failure(op.callback_id, ErrorObject(message, error_type))
        except CallbackConflictError as error:
            return _execution_response(engine, execution_id, session, problem=f"refused: {error}", status=409)
        except (UnknownCallbackError, ValidationError) as error:
            return _execution_response(engine, execution_id, session, problem=f"refused: {error}", status=400)
        return RedirectResponse(f"/console/executions/{execution_id}?notice=callback-{action}", status_code=303)

    # ----- topology

    @app.get("/console/topology", include_in_schema=False)
    def topology(request: Request) -> Response:
        return html(pages.topology_page(session_of(request).csrf))

    @app.get("/console/topology/feed", include_in_schema=False)
    async def topology_feed(request: Request, frames: int | None = None) -> Response:
        if sessions.open(request.cookies.get(COOKIE)) is None:
            return Response("no console session: open the login link `durable serve` printed\n", status_code=401,
                            media_type="text/plain")
        # a malformed Last-Event-ID (not one this feed sent) is treated as none: the stream starts from the recording
        last = request.headers.get("last-event-id", "")
        start = int(last) if _EVENT_ID.fullmatch(last) else 0
        return StreamingResponse(_frames(feed, start, frames), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/topology", summary="The actors now: nodes with mailbox depth and busy count, edges with "
             "messages per second (the console's latest sample)")
    def topology_json() -> Any:
        frame = feed.latest()
        return JSONResponse(frame.data if frame is not None else {"nodes": [], "edges": []})

    _render_errors_as_pages(app, sessions)


async def _frames(feed: TopologyFeed, seq: int, limit: int | None) -> AsyncIterator[str]:
    """Server-Sent Events: the recording after `seq`, then each new frame as it is sampled."""
    yield "retry: 2000\n\n"
    sent = 0
    quiet = 0.0
    while not feed.stopped:
        batch = feed.since(seq)
        for frame in batch:
            yield f"id: {frame.seq}\nevent: frame\ndata: {frame.text}\n\n"
            seq = frame.seq
            sent += 1
            if limit is not None and sent >= limit:
                return
        quiet = 0.0 if batch else quiet + feed.interval / 2
        if quiet >= 15:
            yield ": still here\n\n"
            quiet = 0.0
        await anyio.sleep(feed.interval / 2)


def _form(request: Request, max_fields: int, keep_blank_values: bool = False) -> dict[str, list[str]]:
    """The form in the body, or a 400 page naming the problem (parse_qs raises ValueError past `max_fields`)."""
    try:
        return parse_qs(getattr(request.state, "body_text", None) or "", keep_blank_values=keep_blank_values,
                        max_num_fields=max_fields)
    except ValueError:
        raise ConsoleError(400, f"the form has more than {max_fields:,} fields") from None


def _logged_in(sessions: Sessions) -> Response:
    cookie, _ = sessions.issue()
    response = RedirectResponse("/console/executions", status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=int(sessions.lifetime), path="/", httponly=True, samesite="strict")
    return response


_NOTICES = {
    "stopped": "Stopped.",
    "started": "Started a new execution with the same input.",
    "callback-succeed": "The callback succeeded.",
    "callback-fail": "The callback failed, as asked.",
    "none-selected": "Nothing was selected: tick the executions to stop first.",
    **{f"stopped-{n}": f"Stopped {n} execution(s)." for n in range(1000)},
}


def _require(engine: Engine, execution_id: str) -> Any:
    record = engine.store.get_execution(execution_id)
    if record is None:
        raise ConsoleError(404, f"unknown execution {execution_id[:MAX_NAME_LENGTH]!r}")
    return record


def _execution_response(engine: Engine, execution_id: str, session: Session, message: str | None = None,
                        problem: str | None = None, status: int = 200) -> Response:
    record = _require(engine, execution_id)
    operations = engine.operations(execution_id)
    events = engine.history(execution_id)
    drawing = timeline.render(operations, events, time.time(), record.created)
    return html(pages.execution_page(record, operations, events, drawing, session.csrf, message, problem), status)


def _status(value: str | None) -> ExecutionStatus | None:
    if not value:
        return None
    try:
        return ExecutionStatus(value)
    except ValueError:
        raise ConsoleError(400, f"unknown status {value[:40]!r}: use one of "
                                f"{', '.join(s.value for s in ExecutionStatus)}") from None


def _text(value: str | None, what: str) -> str | None:
    if not value:
        return None
    if len(value) > MAX_NAME_LENGTH:
        raise ConsoleError(400, f"the {what} filter is over {MAX_NAME_LENGTH} characters")
    return value


def _cursor(value: str | None) -> tuple[float, str] | None:
    """`before=<created>~<execution id>`, as the Older link writes it."""
    if not value:
        return None
    created, _, execution_id = value.partition("~")
    try:
        when = float(created)
    except ValueError:
        when = math.nan
    if not math.isfinite(when) or not execution_id or len(execution_id) > MAX_NAME_LENGTH:
        raise ConsoleError(400, "the page cursor 'before' is malformed: follow the Older link instead of editing it")
    return (when, execution_id)


def _render_errors_as_pages(app: FastAPI, sessions: Sessions) -> None:
    """On console paths, every error the app answers becomes a one-line page (a missing session: 303 to login)."""
    handlers = dict(app.exception_handlers)

    def wrap(original: Callable[[Request, Exception], Awaitable[Response]] | None) -> Any:
        async def handler(request: Request, error: Exception) -> Response:
            path = request.url.path
            console = path in ROOT_PATHS or path.startswith(PREFIX)
            if console and isinstance(error, _NeedsLoginError):
                return RedirectResponse("/console/login", status_code=303)
            if console and isinstance(error, ConsoleError):
                return _error_page(request, sessions, error.status, str(error))
            if original is None:
                raise error
            response = await original(request, error)
            if not console:
                return response
            try:
                message = json.loads(bytes(response.body))["error"]
            except (ValueError, KeyError, TypeError):
                message = "the request failed"
            return _error_page(request, sessions, response.status_code, message)

        return handler

    for kind in (*handlers, _NeedsLoginError, ConsoleError):
        if kind in (_NeedsLoginError, ConsoleError):
            app.add_exception_handler(kind, wrap(None))
        else:
            app.add_exception_handler(kind, wrap(handlers[kind]))


def _error_page(request: Request, sessions: Sessions, status: int, message: str) -> Response:
    session = sessions.open(request.cookies.get(COOKIE))
    return html(pages.error_page(status, message, session.csrf if session else None), status)
