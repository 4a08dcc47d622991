"""The console over the ASGI test client: sessions, CSRF, pages, actions, paging, the feed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from durable.console import Console, create_console_app
from durable.console.routes import CSP
from durable.console.session import COOKIE, Sessions, login_key
from durable.engine import Engine
from durable.stores.base import ExecutionStatus
from tests.conftest import TOKEN, csrf_of, open_callback, wait_until
from tests.workflows import approval

pytestmark = pytest.mark.timeout(60)

PAGES = ["/", "/console", "/console/executions", "/console/executions/abc", "/console/topology"]
ACTIONS = [
    "/console/executions/stop", "/console/executions/abc/stop", "/console/executions/abc/rerun",
    "/console/executions/abc/callbacks/1/succeed", "/console/logout",
]


def _problem(page: str) -> list[str]:
    return re.findall(r'class="notice error" role="alert">([^<]*)<', page)


def _waiting_approval(engine: Engine) -> tuple[str, str]:
    execution_id = engine.start("approval")
    open_callback(engine, execution_id)
    operation = next(op.operation_id for op in engine.operations(execution_id) if op.callback_id)
    return execution_id, operation


# ----- sessions


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_is_303_to_the_page_that_says_how_to_get_the_link(
    anonymous: TestClient, path: str
) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    landing = anonymous.get(response.headers["location"], follow_redirects=True)
    assert landing.status_code == 200
    assert "durable serve" in landing.text and "login" in landing.text.lower()


@pytest.mark.parametrize("path", ACTIONS)
def test_an_action_without_a_session_is_303_to_login_and_changes_nothing(anonymous: TestClient, path: str) -> None:
    response = anonymous.post(path, data={"csrf": "x", "confirmed": "yes"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


def test_the_printed_link_opens_a_session_in_an_httponly_samesite_strict_cookie(
    console: Console, anonymous: TestClient
) -> None:
    response = anonymous.get(console.login_url("http://testserver"))
    assert response.status_code == 303 and response.headers["location"] == "/console/executions"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=v1.")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert TOKEN not in console.login_url("http://testserver"), "the login link must not carry the bearer token"
    assert anonymous.get("/console/executions").status_code == 200


def test_a_wrong_login_key_is_refused(anonymous: TestClient) -> None:
    response = anonymous.get("/console/login", params={"key": login_key("another-token-0123456789abcdef")})
    assert response.status_code == 403
    assert "not valid for this server" in response.text
    assert "set-cookie" not in response.headers


def test_the_bearer_token_typed_into_the_login_form_opens_a_session_and_a_wrong_one_does_not(
    anonymous: TestClient,
) -> None:
    wrong = anonymous.post("/console/login", data={"token": TOKEN + "x"})
    assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    right = anonymous.post("/console/login", data={"token": TOKEN})
    assert right.status_code == 303 and COOKIE in right.headers["set-cookie"]


@pytest.mark.parametrize("tamper", ["signature", "expiry", "session", "another server", "garbage"])
def test_a_forged_or_tampered_cookie_is_refused(console: Console, anonymous: TestClient, tamper: str) -> None:
    good, _ = console.sessions.issue()
    version, session_id, expires, mac = good.split(".")
    forged = {
        "signature": f"{version}.{session_id}.{expires}.{mac[:-2]}AA",
        "expiry": f"{version}.{session_id}.{int(expires) + 3600}.{mac}",
        "session": f"{version}.{'y' if session_id[0] == 'x' else 'x'}{session_id[1:]}.{expires}.{mac}",
        "another server": Sessions(TOKEN).issue()[0],
        "garbage": "v1.." + "A" * 300,
    }[tamper]
    anonymous.cookies.set(COOKIE, forged)
    assert anonymous.get("/console/executions").status_code == 303
    assert anonymous.post("/console/logout", data={"csrf": "x"}).status_code == 303


def test_an_expired_session_is_refused(console: Console, anonymous: TestClient) -> None:
    console.sessions.clock = lambda: 0.0
    cookie, _ = console.sessions.issue()
    console.sessions.clock = lambda: 10 * 86400.0
    anonymous.cookies.set(COOKIE, cookie)
    assert anonymous.get("/console/executions").status_code == 303


def test_logging_out_ends_the_session(client: TestClient) -> None:
    response = client.post("/console/logout", data={"csrf": csrf_of(client)})
    assert response.status_code == 303
    assert client.get("/console/executions").status_code == 303


def test_the_api_keeps_the_bearer_token_and_a_session_cookie_does_not_open_it(client: TestClient) -> None:
    assert client.get("/executions").status_code == 401
    assert client.get("/topology").status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/executions", headers=bearer).status_code == 200
    topology = client.get("/topology", headers=bearer)
    assert topology.status_code == 200
    assert {"nodes", "edges"} <= set(topology.json())


def test_no_page_carries_the_bearer_token_and_every_page_has_a_strict_policy(
    engine: Engine, client: TestClient
) -> None:
    execution_id, _ = _waiting_approval(engine)
    for path in ["/console/login", "/console/executions", f"/console/executions/{execution_id}", "/console/topology",
                 "/console/executions/unknown"]:
        response = client.get(path)
        assert TOKEN not in response.text, path
        assert response.headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert not re.search(r"<[^>]+\son[a-z]+=", response.text), f"an inline event handler on {path}"
        assert not re.search(r"<script>(?!</script>)", response.text), f"an inline script on {path}"


# ----- CSRF and origin


@pytest.mark.parametrize("csrf", [None, "", "wrong", "v1"])
def test_an_action_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    engine: Engine, client: TestClient, csrf: str | None
) -> None:
    execution_id, operation = _waiting_approval(engine)
    form: dict[str, Any] = {"confirmed": "yes", "result": '"yes"'}
    if csrf is not None:
        form["csrf"] = csrf
    for path in [f"/console/executions/{execution_id}/stop",
                 f"/console/executions/{execution_id}/callbacks/{operation}/succeed",
                 "/console/executions/stop"]:
        response = client.post(path, data={**form, "execution_id": execution_id})
        assert response.status_code == 403, path
        assert "CSRF token is missing or wrong" in response.text
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING


def test_a_csrf_token_of_another_session_is_refused(console: Console, engine: Engine, client: TestClient) -> None:
    execution_id, _ = _waiting_approval(engine)
    _, other = console.sessions.issue()
    response = client.post(f"/console/executions/{execution_id}/stop", data={"csrf": other.csrf, "confirmed": "yes"})
    assert response.status_code == 403
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING


def test_a_form_posted_from_another_origin_is_refused(engine: Engine, client: TestClient) -> None:
    execution_id, _ = _waiting_approval(engine)
    response = client.post(f"/console/executions/{execution_id}/stop",
                           data={"csrf": csrf_of(client), "confirmed": "yes"},
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403 and "evil.example" in response.text
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING


# ----- actions


def test_completing_a_callback_twice_the_second_is_refused_and_the_page_says_so(
    engine: Engine, client: TestClient
) -> None:
    execution_id, operation = _waiting_approval(engine)
    page = client.get(f"/console/executions/{execution_id}").text
    assert f"/callbacks/{operation}/succeed" in page
    form = {"csrf": csrf_of(client), "result": '{"ok": true}'}
    first = client.post(f"/console/executions/{execution_id}/callbacks/{operation}/succeed", data=form)
    assert first.status_code == 303
    assert client.get(first.headers["location"]).text.count("The callback succeeded.") == 1
    second = client.post(f"/console/executions/{execution_id}/callbacks/{operation}/succeed", data=form)
    assert second.status_code == 409
    assert _problem(second.text) and "already" in _problem(second.text)[0]
    assert engine.wait(execution_id, timeout=10).status is ExecutionStatus.SUCCEEDED
    assert json.loads(engine.status(execution_id).result or "null") == {"approved": {"ok": True}}


def test_failing_a_callback_from_the_page_fails_the_wait_with_the_given_error(
    engine: Engine, client: TestClient
) -> None:
    execution_id, operation = _waiting_approval(engine)
    response = client.post(f"/console/executions/{execution_id}/callbacks/{operation}/fail",
                           data={"csrf": csrf_of(client), "error_type": "Rejected", "error_message": "not <this>"})
    assert response.status_code == 303
    record = engine.wait(execution_id, timeout=10)
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "not <this>"
    page = client.get(f"/console/executions/{execution_id}").text
    assert "not &lt;this&gt;" in page and "not <this>" not in page


def test_a_callback_result_that_is_not_text_the_engine_takes_is_refused_on_the_page(
    engine: Engine, client: TestClient
) -> None:
    execution_id, operation = _waiting_approval(engine)
    response = client.post(f"/console/executions/{execution_id}/callbacks/{operation}/succeed",
                           data={"csrf": csrf_of(client), "result": "x" * 300_000})
    assert response.status_code == 413
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING


def test_stop_asks_first_then_stops(engine: Engine, client: TestClient) -> None:
    execution_id, _ = _waiting_approval(engine)
    csrf = csrf_of(client)
    asked = client.post(f"/console/executions/{execution_id}/stop", data={"csrf": csrf})
    assert asked.status_code == 200 and "Stop execution" in asked.text and 'name="confirmed" value="yes"' in asked.text
    assert engine.status(execution_id).status is ExecutionStatus.RUNNING
    done = client.post(f"/console/executions/{execution_id}/stop", data={"csrf": csrf, "confirmed": "yes"})
    assert done.status_code == 303
    assert engine.status(execution_id).status is ExecutionStatus.STOPPED
    again = client.post(f"/console/executions/{execution_id}/stop", data={"csrf": csrf, "confirmed": "yes"})
    assert again.status_code == 409 and "already ended as STOPPED" in again.text


def test_run_again_asks_first_then_starts_the_same_function_with_the_same_input(
    engine: Engine, client: TestClient
) -> None:
    execution_id, _ = _waiting_approval(engine)
    csrf = csrf_of(client)
    asked = client.post(f"/console/executions/{execution_id}/rerun", data={"csrf": csrf})
    assert asked.status_code == 200 and "again" in asked.text
    done = client.post(f"/console/executions/{execution_id}/rerun", data={"csrf": csrf, "confirmed": "yes"})
    assert done.status_code == 303
    new_id = done.headers["location"].split("/")[-1].split("?")[0]
    assert new_id != execution_id
    assert engine.status(new_id).function_name == "approval"
    assert engine.status(new_id).input == engine.status(execution_id).input


def test_bulk_stop_asks_first_then_stops_the_selected_ones_only(engine: Engine, client: TestClient) -> None:
    ids = [_waiting_approval(engine)[0] for _ in range(3)]
    csrf = csrf_of(client)
    chosen = ids[:2]
    asked = client.post("/console/executions/stop", data={"csrf": csrf, "execution_id": chosen})
    assert asked.status_code == 200 and "Stop 2 execution(s)?" in asked.text
    assert all(engine.status(i).status is ExecutionStatus.RUNNING for i in ids)
    done = client.post("/console/executions/stop", data={"csrf": csrf, "execution_id": chosen, "confirmed": "yes"})
    assert done.status_code == 303
    assert "Stopped 2 execution(s)." in client.get(done.headers["location"]).text
    assert [engine.status(i).status for i in ids] == [ExecutionStatus.STOPPED] * 2 + [ExecutionStatus.RUNNING]


def test_bulk_stop_with_nothing_selected_says_so(client: TestClient) -> None:
    response = client.post("/console/executions/stop", data={"csrf": csrf_of(client)})
    assert response.status_code == 303
    assert "Nothing was selected" in client.get(response.headers["location"]).text


# ----- pages and errors


def test_the_execution_page_shows_status_input_timeline_history_and_open_callbacks(
    engine: Engine, client: TestClient
) -> None:
    execution_id, _ = _waiting_approval(engine)
    page = client.get(f"/console/executions/{execution_id}").text
    assert "RUNNING" in page and "Open callbacks" in page and '<svg class="timeline"' in page
    for event in engine.history(execution_id):
        assert f"<td>{event['EventType']}</td>" in page


def test_errors_on_console_paths_are_one_line_pages_never_tracebacks(
    engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id, _ = _waiting_approval(engine)
    monkeypatch.setattr(engine, "history", lambda _: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    response = client.get(f"/console/executions/{execution_id}")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text and "internal error: RuntimeError" in response.text
    for path, status in [("/console/executions?status=NOPE", 400), ("/console/executions?before=1~", 400),
                         ("/console/executions?before=nan~x", 400), ("/console/executions?surprise=1", 400),
                         ("/console/executions/nope", 404), ("/console/nothing-here", 404)]:
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert len(_problem(response.text)) == 1, path
    assert client.get("/executions/nope", headers={"Authorization": f"Bearer {TOKEN}"}).json()["error"]


def test_the_list_pages_newest_first_by_keyset_and_filters(store_url: str) -> None:
    with Engine(store=store_url, execute=False) as engine:
        engine.register(approval)
        engine.register("other", approval)
        ids = [engine.start("approval" if i % 4 else "other", execution_name=f"job-{i:03d}") for i in range(120)]
        console = create_console_app(engine, TOKEN)
        try:
            with TestClient(console.app, follow_redirects=False) as client:
                client.get(console.login_url("http://testserver"))
                seen: list[str] = []
                path = "/console/executions"
                while path:
                    page = client.get(path).text
                    seen += re.findall(r'href="/console/executions/([0-9a-f]{32})"', page)
                    older = re.search(r'rel="next" href="([^"]+)"', page)
                    path = older.group(1).replace("&amp;", "&") if older else ""
                assert seen == ids[::-1]
                other = client.get("/console/executions", params={"function": "other"}).text
                shown = re.findall(r'href="/console/executions/([0-9a-f]{32})"', other)
                assert shown == [ids[i] for i in range(116, -1, -4)]
                named = client.get("/console/executions", params={"name": "job-11"}).text
                assert re.findall(r'href="/console/executions/([0-9a-f]{32})"', named) == ids[119:109:-1]
                running = client.get("/console/executions", params={"status": "SUCCEEDED"}).text
                assert "No executions match." in running
        finally:
            console.close()


# ----- the topology feed


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]


def test_the_feed_streams_numbered_frames_of_the_actors(client: TestClient) -> None:
    response = client.get("/console/topology/feed", params={"frames": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = _events(response.text)
    assert len(frames) == 3
    assert [f["seq"] for f in frames] == sorted(f["seq"] for f in frames)
    kinds = {node["kind"] for node in frames[-1]["nodes"]}
    assert {"CheckpointWriter", "Dispatcher", "AlarmClient", "AlarmManager", "InvocationWorker"} <= kinds
    for node in frames[-1]["nodes"]:
        assert {"depth", "busy", "rate", "state", "x", "y", "members"} <= set(node)


def test_the_feed_resumes_after_the_last_event_id(client: TestClient, console: Console) -> None:
    wait_until(lambda: len(console.feed.frames) >= 4, what="four frames")
    last = console.feed.frames[-2].seq
    response = client.get("/console/topology/feed", params={"frames": 1}, headers={"Last-Event-ID": str(last)})
    assert [f["seq"] for f in _events(response.text)] == [last + 1]


def test_the_feed_without_a_session_is_401(anonymous: TestClient) -> None:
    response = anonymous.get("/console/topology/feed", params={"frames": 1})
    assert response.status_code == 401


def test_the_feed_carries_message_rates_while_executions_run(engine: Engine, client: TestClient) -> None:
    engine.start("approval")

    def busy_frame() -> Any:
        frames = _events(client.get("/console/topology/feed", params={"frames": 40}).text)
        return next((f for f in frames if f["messages"] > 0), None)

    frame = wait_until(busy_frame, timeout=20, what="a frame with messages")
    assert any(edge["rate"] > 0 for edge in frame["edges"])  # type: ignore[index]


def test_static_files_are_served_with_the_vendored_library(anonymous: TestClient) -> None:
    for path in ["/console/static/console.css", "/console/static/console.js", "/console/static/topology.js",
                 "/console/static/vendor/cytoscape.min.js"]:
        response = anonymous.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
    assert anonymous.get("/console/ping").status_code == 204
