"""The server's limits against clients that mean harm: tiny chunks, idle crowds, huge forms, bad headers.

Each test names the hole it closes.  Socket-level holes are tested on a real
server over real sockets; the console's forms over the ASGI test client.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import Message

from durable.console import Console, serve_console
from durable.console.routes import ANONYMOUS_BODY_LIMIT
from durable.console.session import COOKIE
from durable.engine import Engine
from durable.http_api import ServerLimits, create_app, guard, server_config, serving_in_background
from durable.http_api.guard import MAX_BODY_PIECES, RequestGuard
from durable.http_api.server import DeadlinedH11Protocol, RequestCap
from durable.stores.base import ExecutionStatus
from tests.conftest import TOKEN, closed_by_server, closed_by_server_now, csrf_of, open_callback, wait_until
from tests.workflows import approval

AUTH = f"Authorization: Bearer {TOKEN}\r\n"
pytestmark = pytest.mark.timeout(60)


def _connect(url: str, timeout: float = 5) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _answer(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket's timeout)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def _slow_body(url: str) -> socket.socket:
    """An authorized POST whose body never completes: a request in flight until the body deadline."""
    conn = _connect(url, timeout=10)
    conn.sendall(f"POST /executions HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
                 'Content-Length: 100\r\n\r\n{"function"'.encode())
    return conn


# ----- 1. an unauthenticated login body in one-byte chunks stalled the server


@pytest.fixture
def console_server(engine: Engine) -> Iterator[str]:
    engine.register(approval)
    with serve_console(engine, token=TOKEN, limits=ServerLimits(body_timeout=30.0)) as served:
        yield served.base_url


def test_a_console_post_without_a_session_is_sent_to_login_before_its_body_is_read(console_server: str) -> None:
    with _connect(console_server) as conn:
        conn.sendall(b"POST /console/executions/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\ncsrf=")
        answer = _answer(conn)
    assert answer.startswith(b"HTTP/1.1 303"), answer[:200]
    assert b"location: /console/login" in answer.lower()


def test_a_login_body_trickled_in_tiny_chunks_is_refused_at_its_small_limit(console_server: str) -> None:
    trickle = b"".join(b"1\r\n" + bytes([byte]) + b"\r\n" for byte in b"token=" + b"a" * (2 * ANONYMOUS_BODY_LIMIT))
    started = time.monotonic()
    with _connect(console_server) as conn:
        conn.sendall(b"POST /console/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + trickle)
        answer = _answer(conn)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"over the {ANONYMOUS_BODY_LIMIT:,}-byte limit".encode() in answer
    assert time.monotonic() - started < 5, "refused as it grew, not at the 30 s body deadline"
    declared = httpx.post(f"{console_server}/console/login", content=b"token=" + b"a" * ANONYMOUS_BODY_LIMIT,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413


def test_clients_trickling_login_bodies_leave_other_requests_answered(console_server: str) -> None:
    trickle = b"".join(b"1\r\n" + bytes([byte]) + b"\r\n" for byte in b"token=" + b"a" * 250_000) + b"0\r\n\r\n"
    request = (b"POST /console/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + trickle)
    answers: list[bytes] = []

    def attack() -> None:
        with _connect(console_server, timeout=20) as conn:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.sendall(request)
            try:
                answers.append(_answer(conn)[:12])
            except ConnectionResetError:
                answers.append(b"reset")

    attackers = [threading.Thread(target=attack) for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    started = time.monotonic()
    probe = httpx.get(f"{console_server}/executions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    took = time.monotonic() - started
    for attacker in attackers:
        attacker.join(timeout=20)
    assert probe.status_code == 200 and took < 2, f"a probe took {took:.2f} s"
    assert len(answers) == 4 and all(a in (b"HTTP/1.1 413", b"reset") for a in answers), answers


def test_a_body_in_more_pieces_than_the_limit_is_400_without_reading_on() -> None:
    """A body's `http.request` messages are bounded, so one trickled a chunk at a time costs bounded work."""
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    sent: list[Message] = []
    pieces = 0

    async def receive() -> Message:
        nonlocal pieces
        pieces += 1
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/executions", "headers": [
        (b"authorization", f"Bearer {TOKEN}".encode())]}
    anyio.run(RequestGuard(app, TOKEN, 10.0, frozenset()), scope, receive, send)
    assert not reached and pieces == MAX_BODY_PIECES
    assert sent[0]["status"] == 400 and (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {
        "error": f"the body arrived in more than {MAX_BODY_PIECES:,} pieces; send it in fewer, larger chunks"}


# ----- 2. idle connections turned every real request away with 503


@pytest.fixture
def small_server(engine: Engine) -> Iterator[str]:
    engine.register(approval)
    with serving_in_background(engine, TOKEN, limits=ServerLimits(body_timeout=30.0, max_connections=8)) as url:
        yield url


def _get(url: str) -> httpx.Response:
    return httpx.get(f"{url}/executions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def test_idle_connections_past_the_request_cap_do_not_turn_real_requests_away(small_server: str) -> None:
    idle = [_connect(small_server, timeout=10) for _ in range(12)]
    try:
        assert _get(small_server).status_code == 200, "12 idle connections are not 12 requests"
        assert not any(closed_by_server_now(conn) for conn in idle)
    finally:
        for conn in idle:
            conn.close()


def test_requests_in_flight_past_the_cap_are_503_in_json(small_server: str) -> None:
    slow = [_slow_body(small_server) for _ in range(8)]
    try:
        turned_away = wait_until(lambda: (r := _get(small_server)).status_code == 503 and r,
                                 what="a request past the 8 in flight to be 503")
        assert isinstance(turned_away, httpx.Response)
        assert "limit of 8 requests at once" in turned_away.json()["error"]
    finally:
        for conn in slow:
            conn.close()
    assert wait_until(lambda: _get(small_server).status_code == 200, what="the server to answer again")


def test_a_newcomer_is_closed_only_when_every_connection_is_mid_request(engine: Engine) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = server_config(create_app(engine, TOKEN, 30.0), "127.0.0.1", port,
                           ServerLimits(body_timeout=30.0, max_connections=8), "warning")
    config.http = type("FourConnections", (DeadlinedH11Protocol,), {"header_timeout": 30.0, "connection_cap": 4})
    cap = config.app
    assert isinstance(cap, RequestCap)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.started, what="the server to start")
        slow = [_slow_body(url) for _ in range(4)]
        try:
            wait_until(lambda: cap.in_flight == 4, what="the four requests to be under way")
            extra = _connect(url)
            assert closed_by_server(extra), "no connection waits for headers, so the newcomer is closed"
            extra.close()
            assert not any(closed_by_server_now(conn) for conn in slow), "requests under way are never cut"
        finally:
            for conn in slow:
                conn.close()
        assert wait_until(lambda: _get(url).status_code == 200, what="the server to answer again")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ----- 3 to 6: the console's forms, feed and login link


def test_a_login_form_with_too_many_fields_is_400_not_500(anonymous: TestClient) -> None:
    response = anonymous.post("/console/login", content="&".join(f"f{n}=x" for n in range(11)),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "the form has more than 10 fields" in response.text
    assert "set-cookie" not in response.headers


def test_an_action_form_with_too_many_fields_is_400_not_500(client: TestClient) -> None:
    body = f"csrf={csrf_of(client)}&" + "&".join(f"execution_id=e{n}" for n in range(1000))
    response = client.post("/console/executions/stop", content=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "the form has more than 1,000 fields" in response.text


@pytest.mark.parametrize("result", [
    "NaN", "[1e999]", '{"a": 1, "a": 2}', "[" * 100 + "]" * 100, "[" * 40_000 + "]" * 40_000, "{not json",
])
def test_a_callback_result_the_api_would_refuse_is_refused_on_the_page(
    engine: Engine, client: TestClient, result: str
) -> None:
    execution_id = engine.start("approval")
    open_callback(engine, execution_id)
    operation = next(op.operation_id for op in engine.operations(execution_id) if op.callback_id)
    before = engine.history(execution_id)
    response = client.post(f"/console/executions/{execution_id}/callbacks/{operation}/succeed",
                           data={"csrf": csrf_of(client), "result": result})
    assert response.status_code == 400, response.text[:300]
    assert "refused: the result" in response.text
    assert engine.history(execution_id) == before
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING


@pytest.mark.parametrize("last", [b"\xb2", b"-1", b"1e3", b" 7", b"9" * 40])
def test_a_malformed_last_event_id_is_treated_as_none(console_server: str, last: bytes) -> None:
    """`\xb2` is "²" in latin-1, which `str.isdigit` accepts and `int` does not: it was a 500."""
    opened = httpx.post(f"{console_server}/console/login", data={"token": TOKEN})
    cookie = opened.cookies[COOKIE]
    with _connect(console_server) as conn:
        conn.sendall(b"GET /console/topology/feed?frames=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Cookie: " + f"{COOKIE}={cookie}".encode() + b"\r\nLast-Event-ID: " + last + b"\r\n\r\n")
        answer = _answer(conn).decode("latin-1")
    assert answer.startswith("HTTP/1.1 200"), answer[:300]
    frames = [json.loads(line[6:]) for line in answer.splitlines() if line.startswith("data: ")]
    assert len(frames) == 1 and frames[0]["seq"] >= 1


def test_the_bearer_token_in_a_login_url_does_not_open_a_session(console: Console, anonymous: TestClient) -> None:
    response = anonymous.get("/console/login", params={"key": TOKEN})
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert anonymous.get("/console/executions").status_code == 303
    assert anonymous.get(console.login_url("http://testserver")).status_code == 303, "the printed link still works"
    assert COOKIE in anonymous.cookies


# ----- 7 to 9: the API's bodies and query parameters


def test_a_large_body_is_checked_off_the_event_loop(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    checked_on: list[str] = []
    real = guard.parse_json

    def recording(text: str, what: str) -> Any:
        checked_on.append(threading.current_thread().name)
        return real(text, what)

    monkeypatch.setattr(guard, "parse_json", recording)
    small = {"function": "approval", "input": [[]] * 10}
    large = {"function": "approval", "input": [[]] * 10_000}
    assert api.post("/executions", json=small).status_code == 201
    assert api.post("/executions", json=large).status_code == 201
    assert checked_on[0] == "durable-http", "a small body is checked in place"
    assert checked_on[1] != "durable-http", "a large one on a worker thread"


@pytest.mark.parametrize("path", ["/executions", "/callbacks/x/succeed", "/callbacks/x/fail", "/executions/x/stop"])
@pytest.mark.parametrize("spaces", [1, 3, 17])
def test_a_body_of_only_whitespace_is_one_clear_400(api: httpx.Client, path: str, spaces: int) -> None:
    response = api.post(path, content=b" " * spaces, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": "the body is only whitespace: send a JSON document, or no body at all"}


@pytest.mark.parametrize("query", ["limit=abc&limit=5", "limit=5&limit=5", "status=RUNNING&status=FAILED"])
def test_a_repeated_query_parameter_is_400_naming_it(api: httpx.Client, query: str) -> None:
    response = api.get(f"/executions?{query}")
    name = query.split("=", 1)[0]
    assert response.status_code == 400
    assert response.json() == {"error": f"query parameter {name!r} is given more than once"}
