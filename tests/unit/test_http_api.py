"""The HTTP API against a real server on a loopback port: auth, bad input, callbacks, executions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from durable.engine import Engine
from durable.stores import open_store
from durable.stores.base import ExecutionStatus
from tests.conftest import TOKEN, wait_until
from tests.workflows import approval

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]



def _waiting(engine: Engine, api: httpx.Client) -> tuple[str, str]:
    """Start an approval over HTTP; return its id and its callback id once it has suspended."""
    started = api.post("/executions", json={"function": "approval"})
    assert started.status_code == 201, started.text
    eid = started.json()["execution_id"]

    def suspended() -> str | None:
        record = engine.status(eid)
        ids = [op.callback_id for op in engine.operations(eid) if op.callback_id]
        return ids[0] if ids and record.invocations and not record.invocation_open else None

    return eid, str(wait_until(suspended, what="the execution to wait on its callback"))


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_401(api: httpx.Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{api.base_url}/executions", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": "missing or wrong bearer token"}


def test_malformed_json_is_400(engine: Engine, api: httpx.Client) -> None:
    bad = api.post("/executions", content=b'{"function": ', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    for body in (b"{nope", b"\xff\xfe"):
        response = api.post(f"/callbacks/{callback_id}/succeed", content=body)
        assert response.status_code == 400, response.text
    assert api.post("/executions", json=["not", "an", "object"]).status_code == 400
    assert api.post("/executions", json={"input": 1}).json() == {"error": "field 'function' is required"}
    assert engine.history(eid) == before


def test_a_malformed_error_object_is_400_and_changes_nothing(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    for bad, says in (
        (["not", "an", "object"], "must be a JSON object"),
        ({"ErrorType": 5}, "field 'ErrorType' must be a string"),
        ({"ErrorMessage": "x", "StackTrace": "one line"}, "field 'StackTrace' must be a list"),
        ({"ErrorTyp": "Rejected"}, "field 'ErrorTyp' is not a known field"),
    ):
        response = api.post(f"/callbacks/{callback_id}/fail", json=bad)
        assert response.status_code == 400 and says in response.json()["error"], (bad, response.text)
        stop = api.post(f"/executions/{eid}/stop", json=bad)
        assert stop.status_code == 400, (bad, stop.text)
    assert engine.history(eid) == before and engine.status(eid).status is ExecutionStatus.RUNNING


def test_a_failure_over_http_reaches_the_handler(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    error = {"ErrorType": "Rejected", "ErrorMessage": "no budget", "ErrorData": "{}", "StackTrace": ["at desk"]}
    assert api.post(f"/callbacks/{callback_id}/fail", json=error).status_code == 204
    record = engine.wait(eid, timeout=10)
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "no budget"


def test_a_completion_over_http_wakes_the_execution(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    response = api.post(f"/callbacks/{callback_id}/succeed", content=b'{"by": "ana"}')
    assert response.status_code == 204
    assert json.loads(engine.wait(eid, timeout=10).result or "") == {"approved": {"by": "ana"}}


def test_forged_and_mutated_ids_are_404_and_change_nothing(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    mutated = callback_id[:5] + ("A" if callback_id[5] != "A" else "B") + callback_id[6:]
    for bad in ("forged-id", mutated, callback_id[:-1]):
        response = api.post(f"/callbacks/{bad}/succeed", content=b'"x"')
        assert (response.status_code, response.json()) == (404, {"error": "unknown callback"})
    assert engine.history(eid) == before and engine.status(eid).status is ExecutionStatus.RUNNING


def test_a_second_completion_is_409_and_the_first_stands(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    assert api.post(f"/callbacks/{callback_id}/succeed", content=b'"first"').status_code == 204
    second = api.post(f"/callbacks/{callback_id}/fail", json={"ErrorType": "Late"})
    assert second.status_code == 409 and "already" in second.json()["error"]
    assert api.post(f"/callbacks/{callback_id}/heartbeat").status_code == 409
    assert json.loads(engine.wait(eid, timeout=10).result or "") == {"approved": "first"}


def test_an_oversized_body_is_413_and_nothing_is_stored(engine: Engine, api: httpx.Client) -> None:
    eid, callback_id = _waiting(engine, api)
    before = engine.history(eid)
    big = json.dumps("x" * (256 * 1024)).encode()
    response = api.post(f"/callbacks/{callback_id}/succeed", content=big)
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:
        yield from (big[i:i + 65536] for i in range(0, len(big), 65536))

    streamed = api.post(f"/callbacks/{callback_id}/succeed", content=chunks())
    assert streamed.status_code == 413, "a chunked body without Content-Length is cut off too"
    assert engine.history(eid) == before and engine.status(eid).status is ExecutionStatus.RUNNING
    assert api.post(f"/callbacks/{callback_id}/heartbeat").status_code == 204


def test_executions_round_trip(engine: Engine, api: httpx.Client) -> None:
    eid, _ = _waiting(engine, api)
    again = api.post("/executions", json={"function": "approval", "name": "once"}).json()["execution_id"]
    assert api.post("/executions", json={"function": "approval", "name": "once"}).json()["execution_id"] == again
    listed = api.get("/executions", params={"status": "RUNNING"}).json()["executions"]
    assert {eid, again} <= {e["execution_id"] for e in listed}
    assert api.get(f"/executions/{eid}").json()["status"] == "RUNNING"
    events = api.get(f"/executions/{eid}/history").json()["events"]
    assert [e["EventType"] for e in events][:2] == ["ExecutionStarted", "CallbackStarted"]
    stopped = api.post(f"/executions/{eid}/stop", json={"ErrorType": "Cancelled", "ErrorMessage": "by ops"})
    assert stopped.json()["status"] == "STOPPED"
    assert api.get("/executions/nope").status_code == 404
    assert api.post("/executions", json={"function": "no_such"}).status_code == 400
    for bad in ({"name": 5}, {"execution_timeout": True}, {"execution_timeout": "1"}, {"execution_timeout": -1}):
        assert api.post("/executions", json={"function": "approval", **bad}).status_code == 400, bad
    assert api.post("/executions", json={"function": "approval", "execution_name": "typo"}).status_code == 400
    for query in ({"status": "DONE"}, {"limit": "0"}, {"limit": "-1"}, {"limit": "many"}, {"limit": "1001"}):
        assert api.get("/executions", params=query).status_code == 400, query
    assert len(api.get("/executions", params={"limit": "1"}).json()["executions"]) == 1


def test_wrong_methods_and_unknown_routes_answer_in_json(api: httpx.Client) -> None:
    wrong = api.delete("/executions")
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "DELETE /executions is not allowed" in wrong.json()["error"]
    assert api.get("/callbacks/x/succeed").status_code == 405
    missing = api.get("/nowhere")
    assert missing.status_code == 404 and "no route for GET /nowhere" in missing.json()["error"]
    assert httpx.get(f"{api.base_url}/nowhere").status_code == 401, "without the token even 404s are hidden"


def test_the_openapi_document_is_generated_from_the_routes(engine: Engine, api: httpx.Client) -> None:
    from fastapi.routing import APIRoute

    from durable.http_api import create_app

    response = httpx.get(f"{api.base_url}/openapi.json")
    assert response.status_code == 200, "the description needs no token"
    document: dict[str, Any] = response.json()
    assert document["openapi"].startswith("3.1")
    app = create_app(engine, TOKEN)
    routes = {(r.path, m.lower()) for r in app.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == routes and len(routes) == 8
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    assert "/openapi.json itself does not" in document["info"]["description"]
    for path, method in routes:
        operation = document["paths"][path][method]
        assert {"401", "408", "413"} <= set(operation["responses"]), (path, method)
        assert "422" not in operation["responses"], "validation failures are answered 400"
    start = document["paths"]["/executions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert start == {"$ref": "#/components/schemas/StartExecution"}
    declared = document["components"]["schemas"]["StartExecution"]
    assert declared["additionalProperties"] is False and declared["required"] == ["function"]


def _cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", store, *args],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )


def test_the_callback_command_completes_and_refuses_bad_ids(store_url: str) -> None:
    with Engine(store=store_url, functions=[approval]) as engine:
        eid = engine.start("approval")
        callback_id = str(wait_until(lambda: next((op.callback_id for op in engine.operations(eid)
                                                   if op.callback_id), None)))
        wait_until(lambda: not engine.status(eid).invocation_open)
    unknown = _cli("callback", "succeed", "forged", '"x"', store=store_url)
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "error: unknown callback")
    cannot = _cli("callback", "heartbeat", callback_id, "--wait", "5", store=store_url)
    assert cannot.returncode == 0 and "the callback stays open" in cannot.stderr, cannot.stderr
    not_json = _cli("callback", "succeed", callback_id, "{nope", store=store_url)
    assert not_json.returncode == 2 and not_json.stderr.startswith("error: PAYLOAD is not JSON"), not_json.stderr
    done = _cli("callback", "succeed", callback_id, '"from the shell"', "--wait", "5", store=store_url)
    assert done.returncode == 0 and "'approval', which cannot be imported here" in done.stderr, done.stderr
    twice = _cli("callback", "succeed", callback_id, '"again"', store=store_url)
    assert twice.returncode == 2 and "already" in twice.stderr and "Traceback" not in twice.stderr
    with Engine(store=store_url, functions=[approval]) as engine:
        assert json.loads(engine.wait(eid, timeout=10).result or "") == {"approved": "from the shell"}


def test_the_callback_command_with_wait_runs_the_woken_execution_to_its_end(store_url: str) -> None:
    with Engine(store=store_url, functions={"tests.workflows:approval": approval}) as engine:
        eid = engine.start("tests.workflows:approval")
        callback_id = str(wait_until(lambda: next((op.callback_id for op in engine.operations(eid)
                                                   if op.callback_id), None)))
        wait_until(lambda: not engine.status(eid).invocation_open)
    not_object = _cli("callback", "fail", callback_id, '"no"', store=store_url)
    assert not_object.returncode == 2 and "must be a JSON object" in not_object.stderr
    done = _cli("callback", "succeed", callback_id, '"yes"', "--wait", "30", store=store_url)
    assert done.returncode == 0 and f"execution {eid} SUCCEEDED" in done.stderr, done.stderr
    store = open_store(store_url)
    try:
        record = store.get_execution(eid)
        assert record is not None and json.loads(record.result or "") == {"approved": "yes"}, "ended before return"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("command", "route"),
    [(("callback", "heartbeat", "some-id"), "POST the callback"),
     (("start", "examples.hello:handler"), "POST /executions")],
)
def test_commands_point_to_http_while_an_engine_holds_the_store(
    engine: Engine, command: tuple[str, ...], route: str
) -> None:
    held = _cli(*command, store=engine.store.url)
    assert held.returncode == 2 and held.stderr.count("\n") == 1, held.stderr
    assert held.stderr.startswith("error: another engine process") and route in held.stderr


def test_serve_on_a_taken_port_is_one_error_line_and_opens_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        store = tmp_path / "never.db"
        refused = _cli("serve", "--port", str(port), store=f"sqlite:///{store}")
    assert refused.returncode == 2 and refused.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert not store.exists()
    assert "error: argument --port: --port must be a whole number from 0 to 65,535" in _cli(
        "serve", "--port", "70000", store=f"sqlite:///{store}").stderr


def test_serve_answers_with_its_token_and_closes_the_engine_on_sigterm(store_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--store", store_url, "serve", "--port", str(port),
         "--function", "tests.workflows:approval"],
        cwd=REPO, env={**os.environ, "DURABLE_API_TOKEN": TOKEN}, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            try:
                return httpx.get(f"{url}/openapi.json").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answering, timeout=30, what="durable serve to answer")
        started = httpx.post(f"{url}/executions", json={"function": "approval"},
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert started.status_code == 201, started.text
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert TOKEN not in stderr and "stopped serving" in stderr and "Traceback" not in stderr
    store = open_store(store_url)
    try:
        assert store.get_meta("topology.dot"), "the engine was closed: closing saves the actor topology"
    finally:
        store.close()


def test_a_listing_reads_the_store_a_page_at_a_time_and_stops_at_eight_mebibytes(
    engine: Engine, api: httpx.Client
) -> None:
    """A thousand executions with inputs near the payload limit would make a listing of gigabytes."""
    small = [engine.start("approval", {"n": i}) for i in range(45)]
    listed = api.get("/executions", params={"limit": "1000"}).json()
    assert listed["truncated"] is False
    ids = [e["execution_id"] for e in listed["executions"]]
    assert len(ids) == len(set(ids)) and set(ids) == set(small), "every one, once"
    created = [e["created"] for e in listed["executions"]]
    assert created == sorted(created, reverse=True), "newest first"
    large = [engine.start("approval", "x" * 240_000) for _ in range(40)]
    page = api.get("/executions", params={"limit": "1000"}).json()
    ids = [e["execution_id"] for e in page["executions"]]
    assert page["truncated"] is True and 30 <= len(ids) < 40
    assert set(ids) <= set(large), "the newest ones"
    assert sum(len(json.dumps(e)) for e in page["executions"]) <= 8 * 1024 * 1024
    assert api.get("/executions", params={"limit": "20"}).json()["truncated"] is False


def test_a_json_body_announced_as_a_form_is_refused_naming_the_content_type(api: httpx.Client) -> None:
    body = b'{"function": "approval"}'
    for sent_as in ("application/x-www-form-urlencoded", "text/plain"):
        refused = api.post("/executions", content=body, headers={"Content-Type": sent_as})
        assert refused.status_code == 400
        assert refused.json()["error"] == (
            f"the body must be a JSON object sent as Content-Type: application/json (got {sent_as!r})"
        )
    assert api.post("/executions", json={"function": "no_such"}).json()["error"].startswith("unknown function")
    not_an_object = api.post("/executions", json=[1])
    assert not_an_object.status_code == 400 and not_an_object.json()["error"] == "the body must be a JSON object"


def test_an_error_names_a_long_path_or_id_by_its_start_only(api: httpx.Client) -> None:
    long_id = "e" * 5000
    unknown = api.get(f"/executions/{long_id}")
    assert unknown.status_code == 404 and len(unknown.json()["error"]) < 400
    no_route = api.get("/x" * 5000)
    assert no_route.status_code == 404 and len(no_route.json()["error"]) < 400
    assert no_route.json()["error"].startswith("no route for GET /x/x")
