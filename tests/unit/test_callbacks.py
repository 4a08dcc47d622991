"""Callbacks completed from outside, on a real SQLite engine with the real clock.

What must hold: a completion wakes a suspended execution, and a running
invocation sees it without waiting for a timer; ids cannot be forged or
mutated; completing twice never changes the first outcome; oversized
payloads are refused with nothing stored; timeouts and heartbeats are durable
timers that fire with no invocation running.
"""

from __future__ import annotations

import concurrent.futures
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable import DurableContext, durable_execution
from durable.core.callback_ids import CallbackIds
from durable.engine import Engine
from durable.exceptions import CallbackConflictError, PayloadTooLargeError, UnknownCallbackError, ValidationError
from durable.stores.base import ExecutionStatus
from tests.conftest import open_callback, wait_until
from tests.workflows import _mark, _wait_for_file, approval, approval_during_step, approval_with_timeouts

pytestmark = pytest.mark.timeout(60)


def _invocations(engine: Engine, execution_id: str) -> int:
    return sum(e["EventType"] == "InvocationCompleted" for e in engine.history(execution_id))


def test_a_completion_wakes_a_suspended_execution(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)
    assert engine.status(eid).alarm is None, "nothing but the completion can wake it"
    engine.send_callback_success(callback_id, json.dumps({"by": "ana"}))
    record = engine.wait(eid, timeout=10)
    assert record.status is ExecutionStatus.SUCCEEDED
    assert json.loads(record.result or "") == {"approved": {"by": "ana"}}
    assert _invocations(engine, eid) == 2


def test_a_completion_during_an_invocation_is_seen_by_that_invocation(engine: Engine, tmp_path: Path) -> None:
    engine.register(approval_during_step)
    marks, release = tmp_path / "marks", tmp_path / "release"
    eid = engine.start("approval_during_step", {"marks": str(marks), "release": str(release)})
    callback_id = str(wait_until(lambda: marks.exists() and marks.read_text().strip(), what="the published id"))
    engine.send_callback_success(callback_id, '"yes"')
    release.touch()
    record = engine.wait(eid, timeout=10)
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == '"yes"'
    assert record.invocations == 1, "the running invocation saw the completion; no second invocation was needed"


def test_completing_twice_conflicts_and_the_first_outcome_stands(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)
    engine.send_callback_success(callback_id, '"first"')
    with pytest.raises(CallbackConflictError):
        engine.send_callback_failure(callback_id, {"ErrorType": "Late", "ErrorMessage": "too late"})
    with pytest.raises(CallbackConflictError):
        engine.send_callback_success(callback_id, '"second"')
    assert json.loads(engine.wait(eid, timeout=10).result or "") == {"approved": "first"}


def test_racing_completions_apply_exactly_one(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)

    def complete(n: int) -> int | None:
        try:
            engine.send_callback_success(callback_id, json.dumps(n))
        except CallbackConflictError:
            return None
        return n

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        winners = [n for n in pool.map(complete, range(32)) if n is not None]
    assert len(winners) == 1
    assert json.loads(engine.wait(eid, timeout=10).result or "") == {"approved": winners[0]}
    assert sum(e["EventType"] == "CallbackSucceeded" for e in engine.history(eid)) == 1


def test_forged_and_mutated_ids_are_unknown_and_change_nothing(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)
    before = engine.history(eid)
    body, tag = callback_id.split(".")
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    for bad in ["", "nonsense", "a.b", f"{flipped}.{tag}", f"{body}.{tag[:-1]}", callback_id + "x"]:
        with pytest.raises(UnknownCallbackError, match=r"^unknown callback$"):
            engine.send_callback_success(bad, '"forged"')
    assert engine.history(eid) == before
    assert engine.status(eid).status is ExecutionStatus.RUNNING


@given(position=st.integers(min_value=0), replacement=st.sampled_from("ABCxyz019-_."))
def test_no_single_character_change_of_an_id_opens_it(position: int, replacement: str) -> None:
    ids = CallbackIds(b"k" * 32)
    callback_id = ids.mint("3f2a9c", "4-2")
    index = position % len(callback_id)
    mutated = callback_id[:index] + replacement + callback_id[index + 1:]
    if mutated == callback_id:
        return
    with pytest.raises(UnknownCallbackError):
        ids.open(mutated)


def test_the_spare_bits_of_a_last_character_do_not_make_a_second_valid_id() -> None:
    ids = CallbackIds(b"k" * 32)
    callback_id = ids.mint("e", "1")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [callback_id[:-1] + c for c in alphabet if c != callback_id[-1]]
    for twin in twins:
        with pytest.raises(UnknownCallbackError):
            ids.open(twin)


def test_an_id_from_another_engine_key_is_unknown() -> None:
    callback_id = CallbackIds(b"a" * 32).mint("e", "1")
    assert CallbackIds(b"a" * 32).open(callback_id) == ("e", "1")
    with pytest.raises(UnknownCallbackError):
        CallbackIds(b"b" * 32).open(callback_id)


def test_an_oversized_payload_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)
    before = engine.history(eid)
    with pytest.raises(PayloadTooLargeError, match="262,144"):
        engine.send_callback_success(callback_id, json.dumps("x" * (256 * 1024)))
    assert engine.history(eid) == before
    engine.send_callback_success(callback_id, '"small"')
    assert engine.wait(eid, timeout=10).status is ExecutionStatus.SUCCEEDED


def test_a_timeout_fires_with_no_invocation_running(engine: Engine) -> None:
    engine.register(approval_with_timeouts)
    eid = engine.start("approval_with_timeouts", {"timeout": 1})
    record = engine.wait(eid, timeout=15)
    assert record.result == '"timed out: Callback timed out"'
    kinds = [e["EventType"] for e in engine.history(eid)]
    assert kinds.index("CallbackTimedOut") > kinds.index("InvocationCompleted")


def test_heartbeats_push_the_deadline_and_a_missed_one_times_out(engine: Engine) -> None:
    engine.register(approval_with_timeouts)
    kept, missed = engine.start("approval_with_timeouts", {"heartbeat": 2}), engine.start(
        "approval_with_timeouts", {"heartbeat": 2}
    )
    kept_id = open_callback(engine, kept)
    open_callback(engine, missed)
    deadline = engine.operations(kept)[0].heartbeat_deadline
    assert deadline is not None
    for _ in range(3):
        wait_until(lambda: engine.clock.now() > (engine.operations(kept)[0].heartbeat_deadline or 0) - 1.2)
        engine.send_callback_heartbeat(kept_id)
    assert (engine.operations(kept)[0].heartbeat_deadline or 0) > deadline + 2
    assert engine.wait(missed, timeout=15).result == '"timed out: Callback timed out on heartbeat"'
    assert engine.status(kept).status is ExecutionStatus.RUNNING
    engine.send_callback_success(kept_id, '"alive"')
    assert engine.wait(kept, timeout=10).result == '"alive"'
    assert _invocations(engine, kept) == 2, "a heartbeat wakes nothing"


def test_the_signing_key_is_owner_only_and_ids_survive_a_restart(store_url: str, tmp_path: Path) -> None:
    with Engine(store=store_url, functions=[approval]) as first:
        eid = first.start("approval")
        callback_id = open_callback(first, eid)
    key = tmp_path / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with Engine(store=store_url, functions=[approval]) as second:
        second.send_callback_success(callback_id, '"later"')
        assert json.loads(second.wait(eid, timeout=10).result or "") == {"approved": "later"}


def test_a_failure_reaches_the_handler_as_the_outside_error(engine: Engine) -> None:
    engine.register(approval)
    eid = engine.start("approval")
    engine.send_callback_failure(open_callback(engine, eid), {"ErrorType": "Rejected", "ErrorMessage": "no"})
    record = engine.wait(eid, timeout=10)
    assert record.status is ExecutionStatus.FAILED
    error: Any = record.error
    assert (error.type, error.message) == ("CallbackExternalError", "no")


def test_a_failure_outside_the_error_shape_is_refused_and_the_callback_stays_open(engine: Engine) -> None:
    """The HTTP API refuses these with 400; the CLI and the Python API took them and stored them as given."""
    engine.register(approval)
    eid = engine.start("approval")
    callback_id = open_callback(engine, eid)
    before = engine.history(eid)
    with pytest.raises(ValidationError, match="unknown field 'Bogus'"):
        engine.send_callback_failure(callback_id, {"Bogus": "x", "ErrorType": "Rejected"})
    with pytest.raises(ValidationError, match="'StackTrace' must be a list of text lines"):
        engine.send_callback_failure(callback_id, {"StackTrace": "notalist"})
    assert engine.history(eid) == before
    engine.send_callback_failure(callback_id, {"ErrorType": "Rejected", "StackTrace": ["at approve"]})
    assert engine.wait(eid, timeout=10).status is ExecutionStatus.FAILED


@durable_execution
def branches_wait_on_callbacks(event: dict[str, Any], context: DurableContext) -> Any:
    """Two map branches: one waits on a callback, the other holds the invocation open until released."""

    def branch(child: DurableContext, item: str, index: int, items: Any) -> Any:
        if item == "callback":
            callback = child.create_callback(name="in-branch")
            child.step(lambda _: _mark(event["marks"], callback.callback_id), name="publish")
            return json.loads(callback.result() or "null")
        return child.step(lambda _: _wait_for_file(event["release"]), name="hold")

    return context.map(["callback", "hold"], branch).get_results()


def test_a_map_branch_waiting_on_a_callback_runs_again_in_the_same_invocation(
    engine: Engine, tmp_path: Path
) -> None:
    engine.register(branches_wait_on_callbacks)
    marks, release = tmp_path / "marks", tmp_path / "release"
    eid = engine.start("branches_wait_on_callbacks", {"marks": str(marks), "release": str(release)})
    callback_id = str(wait_until(lambda: marks.exists() and marks.read_text().strip(), what="the published id"))
    wait_until(lambda: any(op.callback_id and op.status.value == "STARTED" for op in engine.operations(eid)))
    engine.send_callback_success(callback_id, '"from outside"')
    wait_until(
        lambda: any(e["EventType"] == "ContextSucceeded" and e.get("Name") != "hold" for e in engine.history(eid))
        and _invocations(engine, eid) == 0,
        what="the callback branch to finish while the other branch still runs",
    )
    release.touch()
    record = engine.wait(eid, timeout=10)
    assert json.loads(record.result or "") == ["from outside"], "a None result is left out of get_results()"
    assert record.invocations == 1
