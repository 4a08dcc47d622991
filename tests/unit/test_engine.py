"""The engine end to end on a real SQLite file: idempotency, stop, timeouts, fencing, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import Duration
from durable.core.records import OperationStatus
from durable.engine import Engine
from durable.exceptions import InvocationError
from durable.stores import StoreError
from durable.stores.base import CommitResult, ExecutionRecord, ExecutionStatus, WriteSet
from durable.stores.memory import MemoryStore
from durable.waits import WaitForConditionConfig, WaitForConditionDecision
from tests.conftest import wait_until
from tests.workflows import at_most_once_slow, slow_step, step_wait_step

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


def _events(engine: Engine, execution_id: str) -> list[str]:
    return [e["EventType"] for e in engine.history(execution_id)]


def _invocation_errors(history: list[dict[str, Any]]) -> list[str]:
    """The ErrorType of every invocation that ended abnormally."""
    return [
        e["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"]
        for e in history
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]


def test_an_execution_name_is_an_idempotency_key(engine: Engine, tmp_path: Path) -> None:
    engine.register(step_wait_step)
    event = {"marks": str(tmp_path / "marks"), "wait": 1}
    first = engine.start("step_wait_step", event, execution_name="order-1")
    again = engine.start("step_wait_step", event, execution_name="order-1")
    assert first == again
    assert engine.wait(first, timeout=20).status is ExecutionStatus.SUCCEEDED
    assert len(engine.list()) == 1
    assert (tmp_path / "marks").read_text().splitlines() == ["first", "second"]


def test_stop_ends_the_execution_and_fences_its_running_invocation(engine: Engine, tmp_path: Path) -> None:
    engine.register(slow_step)
    marks, release = tmp_path / "marks", tmp_path / "release"
    eid = engine.start("slow_step", {"marks": str(marks), "release": str(release)})
    wait_until(lambda: marks.exists() and "slow-started" in marks.read_text(), what="the slow step to start")
    # a step's START is written asynchronously (as the SDK does), at the latest one tick later
    wait_until(lambda: any(op.name == "slow" for op in engine.operations(eid)), what="the slow step's START")
    stopped = engine.stop(eid)
    assert stopped.status is ExecutionStatus.STOPPED
    release.touch()
    wait_until(lambda: engine.stats()["running"] == 0, what="the fenced invocation to end")
    slow = next(op for op in engine.operations(eid) if op.name == "slow")
    assert slow.status is OperationStatus.STARTED, "a stopped execution's late write must be rejected"
    events = _events(engine, eid)
    assert events[-1] == "ExecutionStopped" and events.count("StepSucceeded") == 1
    assert engine.status(eid).status is ExecutionStatus.STOPPED


def test_execution_timeout_ends_the_execution_timed_out(engine: Engine) -> None:
    @durable_execution
    def sleepy(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_seconds(30))
        return "never"

    engine.register(sleepy)
    eid = engine.start("sleepy", None, execution_timeout=0.3)
    record = engine.wait(eid, timeout=10)
    assert record.status is ExecutionStatus.TIMED_OUT
    assert _events(engine, eid)[-1] == "ExecutionTimedOut"


def test_a_timed_out_invocation_is_fenced_and_the_execution_reinvoked(store_url: str, tmp_path: Path) -> None:
    marks, release = tmp_path / "marks", tmp_path / "release"
    with Engine(store=store_url) as engine:
        engine.register("slow_step", slow_step, invocation_timeout=0.3)
        eid = engine.start("slow_step", {"marks": str(marks), "release": str(release)})
        wait_until(lambda: marks.read_text().count("slow-started") >= 2 if marks.exists() else False,
                   what="a second invocation to start the slow step")
        release.touch()
        record = engine.wait(eid, timeout=20)
        assert record.status is ExecutionStatus.SUCCEEDED
        history = engine.history(eid)
        assert "Sandbox.Timedout" in _invocation_errors(history), "the timed-out invocation is recorded"
        assert marks.read_text().splitlines().count("before") == 1, "completed steps are not re-run"
        assert engine.stats()["fenced"] >= 1


def test_an_execution_whose_invocations_keep_timing_out_fails_after_five(store_url: str, tmp_path: Path) -> None:
    """As the AWS testing library's runner gives up on a function that keeps timing out."""
    marks, release = tmp_path / "marks", tmp_path / "release"
    try:
        with Engine(store=store_url) as engine:
            engine.register("slow_step", slow_step, invocation_timeout=0.25)
            eid = engine.start("slow_step", {"marks": str(marks), "release": str(release)})
            record = engine.wait(eid, timeout=30)
            history = engine.history(eid)
    finally:
        release.touch()  # lets the abandoned invocations' threads end
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.message == "Function timed out after 0.25 seconds"
    assert _invocation_errors(history).count("Sandbox.Timedout") == 5
    assert marks.read_text().splitlines().count("slow-started") == 5


def test_a_second_engine_on_the_same_file_is_refused(engine: Engine, store_url: str) -> None:
    with pytest.raises(StoreError, match="another engine process"):
        Engine(store=store_url)


_CHILD = textwrap.dedent(
    """
    import sys
    from durable.engine import Engine
    from tests.workflows import {function}
    engine = Engine(store=sys.argv[1])
    engine.register({function})
    print(engine.start("{function}", {event!r}), flush=True)
    sys.stdin.read()
    """
)


def _spawn(store_url: str, function: str, event: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    script = _CHILD.format(function=function, event=event)
    child = subprocess.Popen(
        [sys.executable, "-c", script, store_url], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def test_an_execution_survives_its_process_being_killed_during_a_wait(store_url: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    child, eid = _spawn(store_url, "step_wait_step", {"marks": str(marks), "wait": 2})
    try:
        from durable.stores import open_store

        reader = open_store(store_url)
        wait_until(lambda: "WaitStarted" in [e["EventType"] for e in reader.history(eid)], what="the wait to start")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with Engine(store=store_url, functions=[step_wait_step]) as engine:
        record = engine.wait(eid, timeout=20)
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == '"one-two"'
    assert marks.read_text().splitlines() == ["first", "second"]


def _crash_mid_step(
    store_url: str, tmp_path: Path, handler: Any, mark: str
) -> tuple[ExecutionRecord, list[dict[str, Any]], list[str]]:
    """Run `handler` in a child engine process, SIGKILL it once the step wrote `mark`, resume here."""
    marks, release = tmp_path / "marks", tmp_path / "release"
    child, eid = _spawn(store_url, handler.name, {"marks": str(marks), "release": str(release)})
    try:
        wait_until(lambda: marks.exists() and mark in marks.read_text(), what=f"mark {mark!r}")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    release.touch()
    with Engine(store=store_url, functions=[handler]) as engine:
        record = engine.wait(eid, timeout=20)
        history = engine.history(eid)
    return record, history, marks.read_text().splitlines()


def test_an_at_most_once_step_killed_mid_attempt_is_interrupted_not_rerun(store_url: str, tmp_path: Path) -> None:
    record, history, marks = _crash_mid_step(store_url, tmp_path, at_most_once_slow, "attempt")
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.type == "StepError"
    assert marks == ["attempt"]
    failed = [e for e in history if e["EventType"] == "StepFailed"]
    assert failed[0]["StepFailedDetails"]["Error"]["Payload"]["ErrorType"] == "StepInterruptedError"
    assert failed[0]["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 1}


def test_an_invocation_killed_mid_step_is_recorded_and_the_step_rerun(store_url: str, tmp_path: Path) -> None:
    record, history, marks = _crash_mid_step(store_url, tmp_path, slow_step, "slow-started")
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == '"before/slow-done"'
    assert _invocation_errors(history) == ["Runtime.ExitError"]
    assert marks == ["before", "slow-started", "slow-started"]


def test_an_invocation_the_runtime_crashes_is_recorded_and_run_again(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from durable.engine.invoker import Invoker

    original = Invoker._invoke
    calls: list[int] = []

    def crash_once(self: Invoker, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected fault in the runtime")
        return original(self, *args)

    monkeypatch.setattr(Invoker, "_invoke", crash_once)
    engine.register(step_wait_step)
    eid = engine.start("step_wait_step", {"marks": str(tmp_path / "marks"), "wait": 1})
    assert engine.wait(eid, timeout=20).status is ExecutionStatus.SUCCEEDED
    errors = [
        e["InvocationCompletedDetails"]["Error"]["Payload"] for e in engine.history(eid)
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert errors == [{"ErrorType": "Runtime.Unknown", "ErrorMessage": "RuntimeError: injected fault in the runtime"}]


_CALLS: list[int] = []


@durable_execution
def reinvoke_until(event: Any, context: DurableContext) -> int:
    """Raises a retryable InvocationError until its `ok_at`-th invocation (counted in _CALLS)."""
    _CALLS.append(1)
    context.step(lambda _: "done once", name="before")
    if len(_CALLS) < event["ok_at"]:
        raise InvocationError("not ready yet, invoke me again")
    return len(_CALLS)


@pytest.mark.parametrize(
    ("ok_at", "status", "calls"), [(3, ExecutionStatus.SUCCEEDED, 3), (99, ExecutionStatus.FAILED, 5)]
)
def test_a_retryable_invocation_error_runs_the_invocation_again_up_to_five_times(
    engine: Engine, ok_at: int, status: ExecutionStatus, calls: int
) -> None:
    """As the SDK re-raises it for Lambda to retry, and the AWS runner gives up after five in a row."""
    _CALLS.clear()
    engine.register(reinvoke_until)
    eid = engine.start("reinvoke_until", {"ok_at": ok_at})
    record = engine.wait(eid, timeout=30)
    assert record.status is status and len(_CALLS) == calls
    history = engine.history(eid)
    ends = [e["InvocationCompletedDetails"] for e in history if e["EventType"] == "InvocationCompleted"]
    assert len(ends) == calls and all(
        end["Error"]["Payload"]["ErrorType"] == "InvocationError" for end in ends[: calls - 1]
    )
    assert len([e for e in history if e["EventType"] == "StepSucceeded"]) == 1
    if status is ExecutionStatus.FAILED:
        assert record.error is not None and record.error.type == "InvocationError"


class _HeldSucceedStore(MemoryStore):
    """Fault injection: a commit holding a poll's SUCCEED blocks until the test lets it through (a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.let_through = threading.Event()

    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        if any(op.name == "poll" and op.status is OperationStatus.SUCCEEDED for ws in batch for op in ws.operations):
            self.holding.set()
            self.let_through.wait(30)
        return super().commit(batch)


_AFTER_POLL = threading.Event()


@durable_execution
def poll_then_step(event: Any, context: DurableContext) -> str:
    context.wait_for_condition(lambda state, _check: state, WaitForConditionConfig(
        lambda state, attempt: WaitForConditionDecision.stop_polling(), initial_state=1), name="poll")
    _AFTER_POLL.set()
    return context.step(lambda _: "stepped", name="after")


def test_a_polls_success_is_not_waited_for_yet_nothing_after_it_is_durable_before_it() -> None:
    """The handler goes on past a poll's SUCCEED while its commit is held; the step after it commits behind it."""
    store = _HeldSucceedStore()
    _AFTER_POLL.clear()
    with Engine(store=store) as engine:
        engine.register("poll_then_step", poll_then_step)
        eid = engine.start("poll_then_step")
        assert store.holding.wait(20), "the poll's SUCCEED reached the store"
        wait_until(_AFTER_POLL.is_set, what="the handler to go on while the SUCCEED's commit is held")
        names = [op.name for op in store.load_operations(eid)]
        assert "after" not in names, "nothing after the poll is stored before the poll's success"
        store.let_through.set()
        record = engine.wait(eid, timeout=30)
        history = engine.history(eid)
    assert record.status is ExecutionStatus.SUCCEEDED
    done = [(e["EventType"], e.get("Name")) for e in history if e["EventType"] in ("StepSucceeded", "StepStarted")]
    assert done.index(("StepSucceeded", "poll")) < done.index(("StepStarted", "after"))


_CHECKS: list[tuple[float, float]] = []


@durable_execution
def slow_checks(event: Any, context: DurableContext) -> int:
    def check(state: int, _check: Any) -> int:
        entered = time.time()
        threading.Event().wait(0.3)
        _CHECKS.append((entered, time.time()))
        return state + 1

    def strategy(state: int, _attempt: int) -> WaitForConditionDecision:
        if state < 2:
            return WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))
        return WaitForConditionDecision.stop_polling()

    return context.wait_for_condition(check, WaitForConditionConfig(strategy, initial_state=0), name="slow")


def test_a_checks_start_travels_with_its_outcome_yet_is_stamped_when_the_check_began(engine: Engine) -> None:
    """A condition's START is held back to go with the check's outcome in one message; its time is the check's."""
    _CHECKS.clear()
    engine.register("slow_checks", slow_checks)
    eid = engine.start("slow_checks")
    record = engine.wait(eid, timeout=30)
    history = engine.history(eid)
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == "2"
    stamps = [
        (e["EventType"], datetime.fromisoformat(e["EventTimestamp"].replace("Z", "+00:00")).timestamp())
        for e in history if e.get("Name") == "slow"
    ]
    assert [kind for kind, _ in stamps] == ["StepStarted", "StepSucceeded"] * 2
    for (entered, left), (started, ended) in zip(_CHECKS, zip(stamps[::2], stamps[1::2], strict=True), strict=True):
        assert started[1] <= entered + 0.001, "the start is stamped before the check ran"
        assert ended[1] >= left - 0.001, "the outcome is stamped after it"
