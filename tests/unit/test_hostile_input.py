"""The HTTP API and the CLI against a client that holds a valid token and means harm.

Each test names the hole it closes: a request that could run any importable
callable, text that poisoned every later read, bodies that froze every route,
numbers that are not numbers, and so on.  Real server, real sockets, real
SQLite files.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger

from durable import DurableContext, durable_execution
from durable.core.records import ErrorObject
from durable.engine import Engine
from durable.exceptions import CallbackConflictError, ValidationError
from durable.http_api import ServerLimits, create_app, serving_in_background
from durable.stores.base import ExecutionStatus
from tests.conftest import closed_by_server, closed_by_server_now, wait_until
from tests.workflows import approval

TOKEN = "hostile-test-token-0123456789abcdef-0123"
REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


@durable_execution
def invoker(event: Any, context: DurableContext) -> Any:
    return context.invoke(event["target"], event.get("payload"))


@pytest.fixture
def api(engine: Engine) -> Iterator[httpx.Client]:
    engine.register(approval)
    engine.register(invoker)
    limits = ServerLimits(body_timeout=1.0)
    with serving_in_background(engine, TOKEN, limits=limits) as url, httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
    ) as client:
        yield client


def _raw(api: httpx.Client, method: str, path: str, body: bytes) -> httpx.Response:
    """A request whose body is sent exactly as given (httpx's json= would refuse NaN)."""
    return api.request(method, path, content=body, headers={"Content-Type": "application/json"})


def _waiting(engine: Engine, api: httpx.Client) -> tuple[str, str]:
    eid = api.post("/executions", json={"function": "approval"}).json()["execution_id"]

    def suspended() -> str | None:
        ids = [op.callback_id for op in engine.operations(eid) if op.callback_id]
        record = engine.status(eid)
        return ids[0] if ids and record.invocations and not record.invocation_open else None

    return eid, str(wait_until(suspended, what="the execution to wait on its callback"))


# 1. Any importable callable could be started.


@pytest.mark.parametrize("function", ["shutil:rmtree", "pty:spawn", "os:system", "tests.workflows:approval"])
def test_only_registered_functions_start_and_nothing_is_imported(
    api: httpx.Client, tmp_path: Path, function: str
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    response = api.post("/executions", json={"function": function, "input": str(victim)})
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert f"unknown function {function!r}" in message and "approval" in message and "invoker" in message
    assert victim.is_dir()


def test_invoke_targets_must_be_registered_too(engine: Engine, api: httpx.Client, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    started = api.post("/executions", json={"function": "invoker",
                                            "input": {"target": "shutil:rmtree", "payload": str(victim)}})
    record = engine.wait(started.json()["execution_id"], timeout=20)
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and "unknown function 'shutil:rmtree'" in (record.error.message or "")
    assert victim.is_dir()


# 2. A lone surrogate poisoned every later read.


def test_unpaired_surrogates_are_refused_and_reads_keep_working(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    poisoned = _raw(api, "POST", f"/callbacks/{callback_id}/fail", b'{"ErrorType": "\\ud800"}')
    assert poisoned.status_code == 400 and "unpaired surrogate" in poisoned.json()["error"]
    named = _raw(api, "POST", "/executions", b'{"function": "approval", "name": "\\udfff"}')
    assert named.status_code == 400 and "unpaired surrogate" in named.json()["error"]
    as_key = _raw(api, "POST", "/executions", b'{"function": "approval", "input": {"\\ud800": 1}}')
    assert as_key.status_code == 400
    succeeded = _raw(api, "POST", f"/callbacks/{callback_id}/succeed", b'"\\ud83d"')
    assert succeeded.status_code == 400
    assert engine.history(eid) == before
    for path in ("/executions", f"/executions/{eid}", f"/executions/{eid}/history"):
        assert api.get(path).status_code == 200, path
    with pytest.raises(ValidationError, match="unpaired surrogate"):
        engine.send_callback_failure(callback_id, {"ErrorType": "\ud800"})
    with pytest.raises(ValidationError, match="unpaired surrogate"):
        engine.start("approval", {"note": "\udc80"})


def test_a_refused_value_is_named_by_where_it_sits(engine: Engine, api: httpx.Client) -> None:
    """Deep in a large input, "the body holds an unpaired surrogate" does not say where to look."""
    body = b'{"function": "approval", "input": {"lines": [{"note": "ok"}, {"note": "\\ud800"}]}}'
    deep = _raw(api, "POST", "/executions", body)
    assert deep.status_code == 400
    assert deep.json()["error"].startswith("the body at input.lines[1].note is not valid text"), deep.text
    odd_key = _raw(api, "POST", "/executions", b'{"function": "approval", "input": {"a b": [1, "\\udfff"]}}')
    assert odd_key.status_code == 400 and 'the body at input["a b"][1]' in odd_key.json()["error"], odd_key.text
    with pytest.raises(ValidationError, match=r"^the execution input at orders\[0\]\.total holds the number inf"):
        engine.start("approval", {"orders": [{"total": float("inf")}]})
    assert engine.list() == []


def test_a_record_poisoned_before_validation_existed_still_reads(engine: Engine, api: httpx.Client) -> None:
    eid, _ = _waiting(engine, api)
    error = ErrorObject(message="\ud800", type="Old")
    engine.stop(eid, None)
    _as_an_older_version_wrote(
        engine, "UPDATE executions SET error=?, deadline=? WHERE execution_id=?",
        (json.dumps(error.to_dict()), float("nan"), eid),
    )
    for path in ("/executions", f"/executions/{eid}", f"/executions/{eid}/history"):
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
    assert "\\ud800" in api.get(f"/executions/{eid}").text, "the unpaired surrogate is escaped, not a 500"


# 3. Slow bodies froze every route.


def test_slow_and_lying_bodies_time_out_with_408_while_other_routes_answer(api: httpx.Client) -> None:
    host, port = api.base_url.host, api.base_url.port
    assert port is not None
    records: list[str] = []
    sink = logger.add(lambda m: records.append(m.record["message"]), level="INFO", filter="durable.http_api")
    logger.enable("durable.http_api")
    slow: list[socket.socket] = []
    try:
        for n in range(260):
            conn = socket.create_connection((host, port), timeout=10)
            path = "/executions" if n % 2 else "/callbacks/x/succeed"
            conn.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"function\"".encode()
            )
            slow.append(conn)
        started = time.monotonic()
        assert httpx.get(f"{api.base_url}/openapi.json", timeout=5).status_code == 200
        assert api.get("/executions", timeout=5).status_code == 200
        assert time.monotonic() - started < 3, "the other routes answered at once"
        answers = [_read_status(conn) for conn in slow]
    finally:
        for conn in slow:
            conn.close()
        logger.disable("durable.http_api")
        logger.remove(sink)
    assert set(answers) == {408}
    timed_out = [line for line in records if "answered 408" in line]
    assert len(timed_out) == 260 and all("\n" not in line for line in timed_out)


def test_connections_that_never_finish_their_headers_are_closed_while_other_routes_answer(
    api: httpx.Client,
) -> None:
    """Slowloris: headers sent a byte at a time, or never, hold a connection only for the header deadline."""
    host, port = api.base_url.host, api.base_url.port
    assert port is not None
    silent = [socket.create_connection((host, port), timeout=10) for _ in range(50)]
    partial = [socket.create_connection((host, port), timeout=10) for _ in range(50)]
    try:
        for conn in partial:
            conn.sendall(b"GET /executions HTTP/1.1\r\nHost: x\r\n")
        assert api.get("/executions", timeout=5).status_code == 200
        started = time.monotonic()
        for n, conn in enumerate(partial[:5]):
            conn.sendall(b"X-Trickle-%d: 1\r\n" % n)
        assert all(closed_by_server(conn) for conn in silent + partial)
        assert time.monotonic() - started < 5, "closed at the 1 s deadline (the fixture's), not held"
    finally:
        for conn in silent + partial:
            conn.close()
    keep_alive = api.get("/executions", timeout=5)
    assert keep_alive.status_code == 200, "a client that completes its requests is served as before"


def test_past_twice_the_connection_cap_the_longest_idle_connection_makes_room(engine: Engine) -> None:
    """Idle connections cannot lock newcomers out: the one waiting longest for request headers is closed."""
    engine.register(approval)
    limits = ServerLimits(body_timeout=30.0, max_connections=8)
    with serving_in_background(engine, TOKEN, limits=limits) as url:
        host, port = url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(16)]
        try:
            for conn in held[8:]:
                conn.sendall(b"GET /executions HTTP/1.1\r\n")
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
                assert client.get("/executions").status_code == 200, "the 17th is served"
            assert closed_by_server(held[0]), "the connection waiting longest was closed to make room"
            assert not any(closed_by_server_now(conn) for conn in held[1:]), "the other 15 stay open"
        finally:
            for conn in held:
                conn.close()


def test_a_client_that_leaves_mid_body_is_one_log_line(api: httpx.Client) -> None:
    host, port = api.base_url.host, api.base_url.port
    assert port is not None
    records: list[str] = []
    sink = logger.add(lambda m: records.append(str(m)), level="INFO", filter="durable.http_api")
    logger.enable("durable.http_api")
    try:
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(f"POST /executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                         "Content-Length: 50\r\n\r\n{".encode())
        wait_until(lambda: any("left before its body was complete" in r for r in records), what="the log line")
        assert api.get("/executions").status_code == 200
    finally:
        logger.disable("durable.http_api")
        logger.remove(sink)
    assert not any("Traceback" in r for r in records)


def _read_status(conn: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else 0


# 4. execution_timeout of NaN, Infinity or 1e400 was accepted.


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"0", b"-5", b"31622401", b"true"])
def test_execution_timeouts_must_be_finite_and_in_range(engine: Engine, api: httpx.Client, number: bytes) -> None:
    response = _raw(api, "POST", "/executions", b'{"function": "approval", "execution_timeout": ' + number + b"}")
    assert response.status_code == 400, response.text
    assert engine.list() == []
    with pytest.raises(ValidationError):
        engine.start("approval", None, execution_timeout=float(number) if number[:1] != b"t" else True)


def test_numbers_anywhere_in_the_input_must_be_finite(engine: Engine, api: httpx.Client) -> None:
    for body in (b'{"function": "approval", "input": [1, NaN]}', b'{"function": "approval", "input": {"a": 1e999}}',
                 b'{"function": "approval", "input": ' + b"9" * 5000 + b"}"):
        assert _raw(api, "POST", "/executions", body).status_code == 400, body[:60]
    with pytest.raises(ValidationError, match="finite"):
        engine.start("approval", {"x": float("inf")})
    assert engine.list() == []


def test_a_key_named_twice_in_one_object_is_refused_wherever_it_is(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    for path, body in (
        ("/executions", b'{"function": "approval", "function": "shutil.rmtree"}'),
        ("/executions", b'{"function": "approval", "input": [{"k": 1, "j": 2, "k": 3}]}'),
        (f"/callbacks/{callback_id}/succeed", b'{"ok": true, "ok": false}'),
        (f"/callbacks/{callback_id}/fail", b'{"ErrorType": "A", "ErrorType": "B"}'),
    ):
        response = _raw(api, "POST", path, body)
        assert response.status_code == 400, (path, body)
        assert "twice in one object" in response.json()["error"], response.text
    assert engine.history(eid) == before
    assert [e.execution_id for e in engine.list()] == [eid]
    accepted = _raw(api, "POST", "/executions", b'{"function": "approval", "input": [{"k": 1}, {"k": 2}]}')
    assert accepted.status_code == 201, accepted.text


# 5. Deep nesting raised RecursionError.


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deeply_nested_json_is_400(engine: Engine, api: httpx.Client, depth: int) -> None:
    body = b'{"function": "approval", "input": ' + b"[" * depth + b"]" * depth + b"}"
    response = _raw(api, "POST", "/executions", body)
    assert response.status_code in (400, 413), response.text
    assert "nested" in response.json()["error"] or response.status_code == 413
    assert engine.list() == []


# 6. ?limit=² was a 500.


@pytest.mark.parametrize("limit", ["²", "\u0661", "0", "-1", "1001", " 5", "5 ", "1e2", "0x10", "99999999999999999999"])
def test_query_limits_are_ascii_digits_in_range(api: httpx.Client, limit: str) -> None:
    response = api.get("/executions", params={"limit": limit})
    assert response.status_code == 400, (limit, response.text)


# 7. A heartbeat to a stopped execution's callback was 204.


def test_a_heartbeat_to_a_closed_execution_is_409_like_succeed_and_fail(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    assert api.post(f"/executions/{eid}/stop").status_code == 200
    for action, body in (("heartbeat", None), ("succeed", b'"late"'), ("fail", b'{"ErrorType": "Late"}')):
        response = api.post(f"/callbacks/{callback_id}/{action}", content=body)
        assert response.status_code == 409, (action, response.text)
    with pytest.raises(CallbackConflictError):
        engine.send_callback_heartbeat(callback_id)


# 8. A blank or one-character token was accepted.


@pytest.mark.parametrize("token", ["", " ", "x", "short-token", "a" * 31, "has space " * 4, "tab\t" * 10, "é" * 40])
def test_weak_tokens_are_refused(engine: Engine, token: str) -> None:
    with pytest.raises(ValidationError, match="token"):
        create_app(engine, token)


@pytest.mark.parametrize("token", [" ", "x", "a" * 31])
def test_serve_refuses_a_weak_token_at_start_up(tmp_path: Path, token: str) -> None:
    store = tmp_path / "never.db"
    done = _cli("serve", "--port", "0", store=store, env={"DURABLE_API_TOKEN": token})
    assert done.returncode == 2 and done.stderr.startswith("error: DURABLE_API_TOKEN: "), done.stderr
    assert done.stderr.count("\n") == 1 and not store.exists()


# 9. The database and its WAL files were world-readable.


def test_the_store_its_wal_and_the_key_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    store = folder / "durable.db"
    with Engine(store=f"sqlite:///{store}", functions=[approval]) as engine:
        engine.start("approval")
        wal = store.with_name("durable.db-wal")
        shm = store.with_name("durable.db-shm")
        assert wal.exists() and shm.exists()
        for path in (store, wal, shm, folder / "secret.key"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_store_created_before_the_rule_is_tightened_when_opened(tmp_path: Path) -> None:
    store = tmp_path / "old.db"
    with Engine(store=f"sqlite:///{store}"):
        pass
    store.chmod(0o644)
    with Engine(store=f"sqlite:///{store}"):
        assert stat.S_IMODE(store.stat().st_mode) == 0o600


# 10. durable list --limit -1 listed everything; a huge limit was an OverflowError.


@pytest.mark.parametrize("limit", ["-1", "0", "99999999999999999999999", "1001", "ten", "nan"])
def test_cli_list_limits_are_checked(tmp_path: Path, limit: str) -> None:
    store = tmp_path / "cli.db"
    with Engine(store=f"sqlite:///{store}"):
        pass
    done = _cli("list", "--limit", limit, store=store)
    assert done.returncode == 2 and "--limit must be a whole number from 1 to 1,000" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "examples.hello:handler", "--timeout", "nan"], "--timeout must be more than 0"),
        (["run", "examples.hello:handler", "--timeout", "inf"], "--timeout must be more than 0"),
        (["start", "examples.hello:handler", "--input", "NaN"], "--input is not JSON"),
        (["start", "examples.hello:handler", "--input", '"\\ud800"'], "unpaired surrogate"),
        (["start", "examples.hello:handler", "--input", "[" * 1000 + "]" * 1000], "nested more than"),
        (["start", "examples.hello:handler", "--name", "bad\x1bname"], "control characters"),
        (["worker", "--workers", "100000"], "--workers must be a whole number from 1 to 256"),
        (["worker", "--progress", "inf"], "a duration must be more than 0"),
        (["callback", "succeed", "id", "--wait", "nan"], "--wait must be from 0 to 3600"),
        (["callback", "succeed", "id", "[NaN]"], "PAYLOAD is not JSON"),
        (["start", "examples.hello:handler", "--input", '{"a": 1, "a": 2}'], 'the key "a" twice'),
        (["status", "\udcff"], "not valid text"),
    ],
)
def test_cli_arguments_follow_the_same_rules(tmp_path: Path, args: list[str], says: str) -> None:
    store = tmp_path / "cli.db"
    with Engine(store=f"sqlite:///{store}"):
        pass
    done = _cli(*args, store=store)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_stored_surrogate_prints_escaped_not_as_a_crash(tmp_path: Path) -> None:
    store = tmp_path / "cli.db"
    with Engine(store=f"sqlite:///{store}", functions=[approval]) as engine:
        eid = engine.start("approval")
        engine.stop(eid)
        _as_an_older_version_wrote(
            engine, "UPDATE executions SET error=? WHERE execution_id=?", (json.dumps({"ErrorMessage": "\ud800"}), eid))
        event = {"EventType": "ExecutionStarted", "EventId": 1, "EventTimestamp": "2026-01-01T00:00:00.000Z",
                 "Name": "\udcff"}
        _as_an_older_version_wrote(
            engine, "UPDATE events SET body=? WHERE execution_id=? AND event_id=1", (json.dumps(event), eid))
    for args in (["list"], ["status", eid], ["history", eid]):
        done = _cli(*args, store=store)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)


def _as_an_older_version_wrote(engine: Engine, sql: str, parameters: tuple[Any, ...]) -> None:
    """Change the store behind the engine's back, through a connection of our own."""
    with contextlib.closing(sqlite3.connect(engine.store.url.removeprefix("sqlite:///"))) as conn, conn:
        conn.execute(sql, parameters)


def _cli(*args: str, store: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60, env={**os.environ, **(env or {})},
        errors="backslashreplace",
    )


def test_a_request_with_two_authorization_headers_is_refused(api: httpx.Client) -> None:
    """A proxy reading the first and the server the last would disagree on who is asking."""
    host, port = api.base_url.host, api.base_url.port
    assert port is not None
    for first, second in ((f"Bearer {TOKEN}", "Bearer wrong"), ("Bearer wrong", f"Bearer {TOKEN}")):
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(
                f"GET /executions HTTP/1.1\r\nHost: x\r\nAuthorization: {first}\r\nAuthorization: {second}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"the authorization header is given more than once" in answer
    assert api.get("/executions").status_code == 200
