"""context.invoke: chained executions, their outcomes, replay, timeouts, unknown names and tenants."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import Duration, InvokeConfig
from durable.exceptions import InvokeError
from durable.execution import InvocationStatus
from durable.testing import DurableFunctionTestRunner

pytestmark = pytest.mark.timeout(60)


def _mark(path: str) -> None:
    with open(path, "a") as handle:
        handle.write("ran\n")


@durable_execution
def counted_child(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    context.step(lambda _: _mark(event["marks"]), name="mark")
    return {"tenant": context.tenant_id, "seen": event["value"]}


@durable_execution
def failing_child(event: Any, context: DurableContext) -> None:
    raise ValueError("no stock for item 7")


@durable_execution
def sleepy_child(event: Any, context: DurableContext) -> str:
    """Busy for 3 real seconds (a timer would be skipped by the test clock; real work is not)."""
    context.step(lambda _: threading.Event().wait(3), name="busy")
    return "late"


def plain_child(event: Any, context: Any) -> dict[str, Any]:
    return {"event": event, "tenant": context.tenant_id, "function": context.function_name}


def _run(handler: Any, event: Any = None, **functions: Any) -> Any:
    with DurableFunctionTestRunner(handler, functions=functions) as runner:
        result = runner.run(input=event, execution_timeout=7200)
        child_histories = [runner.get_history(r.execution_id) for r in runner._engine.list() if r.parent_execution_id]
        return result, child_histories


def test_the_caller_resumes_with_the_child_result_and_replay_never_invokes_again(tmp_path: Path) -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        result: Any = context.invoke("counted", event, name="count", config=InvokeConfig(tenant_id="acme"))
        context.wait(Duration.from_seconds(5))
        return result

    marks = tmp_path / "marks"
    result, children = _run(caller, {"marks": str(marks), "value": 7}, counted=counted_child)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"tenant": "acme", "seen": 7}
    assert marks.read_text() == "ran\n", "the child ran once although the caller replayed twice"
    started = next(e for e in result.history if e["EventType"] == "ChainedInvokeStarted")
    details = started["ChainedInvokeStartedDetails"]
    assert (details["FunctionName"], details["TenantId"], started["Name"]) == ("counted", "acme", "count")
    assert len(children) == 1
    child_start = children[0][0]["ExecutionStartedDetails"]
    assert child_start["ParentExecutionArn"] == result.execution_arn and child_start["TenantId"] == "acme"
    assert len(result.invocations) == 3


def test_a_child_failure_raises_invoke_error_carrying_the_child_error() -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        try:
            context.invoke("failing", None)
        except InvokeError as error:
            return [error.error_type, error.message]
        return "unreachable"

    result, _ = _run(caller, failing=failing_child)
    assert json.loads(result.result) == ["ValueError", "no stock for item 7"]
    assert [e["EventType"] for e in result.history].count("ChainedInvokeFailed") == 1


def test_a_timeout_raises_invoke_error_with_a_timeout_type() -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        try:
            context.invoke("sleepy", None, config=InvokeConfig(timeout=Duration.from_seconds(1)))
        except InvokeError as error:
            return error.error_type
        return "unreachable"

    result, children = _run(caller, sleepy=sleepy_child)
    assert result.result == '"Invoke.Timeout"'
    assert "ChainedInvokeTimedOut" in [e["EventType"] for e in result.history]
    child_start = children[0][0]["ExecutionStartedDetails"]
    assert child_start["ExecutionTimeout"] == 2, "the child outlives the invoke timeout by a second at most"


def test_an_unknown_function_fails_the_operation_naming_it() -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        context.invoke("no-such-function", {"a": 1})

    result, children = _run(caller)
    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "InvokeError"
    assert "'no-such-function'" in result.error.message
    invoked = result.get_invoke(None)
    assert invoked.error is not None and invoked.error.type == "Invoke.FunctionNotFound"
    assert children == []


def test_a_plain_function_runs_once_with_the_tenant() -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        return context.invoke("plain", {"n": 1}, config=InvokeConfig(tenant_id="t-9"))

    result, _ = _run(caller, plain=plain_child)
    assert json.loads(result.result) == {"event": {"n": 1}, "tenant": "t-9", "function": "plain"}


def test_a_payload_that_cannot_be_serialized_fails_before_anything_is_invoked() -> None:
    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        context.invoke("plain", object())

    result, children = _run(caller, plain=plain_child)
    assert result.status is InvocationStatus.FAILED and result.error.type == "ExecutionError"
    assert "Serialization failed for id: 1" in result.error.message
    assert children == [] and not [e for e in result.history if e["EventType"].startswith("ChainedInvoke")]


def test_a_caller_that_missed_its_childs_end_hears_it_after_a_restart(tmp_path: Path) -> None:
    from durable.engine import Engine
    from durable.engine.invoker import Invoker
    from durable.stores.base import ExecutionStatus

    @durable_execution
    def caller(event: Any, context: DurableContext) -> Any:
        return context.invoke("counted", event)

    url = f"sqlite:///{tmp_path / 'd.db'}"
    event = {"marks": str(tmp_path / "marks"), "value": 3}
    functions = {"caller": caller, "counted": counted_child}
    original = Invoker.tell_caller
    Invoker.tell_caller = lambda self, record: None  # type: ignore[method-assign]  # the crash window
    try:
        with Engine(store=url, functions=functions) as first:
            eid = first.start("caller", event)
            child = next(r for r in _wait_for_ended_child(first))
            assert child.status is ExecutionStatus.SUCCEEDED
            assert first.status(eid).status is ExecutionStatus.RUNNING
    finally:
        Invoker.tell_caller = original  # type: ignore[method-assign]
    with Engine(store=url, functions=functions) as second:
        assert [r.execution_id for r in second.store.ended_children_of_running_callers()] == [child.execution_id]
        record = second.wait(eid, timeout=20)
    assert json.loads(record.result or "") == {"tenant": None, "seen": 3}
    assert (tmp_path / "marks").read_text() == "ran\n", "the child was not run again"


def _wait_for_ended_child(engine: Any) -> Any:
    from tests.conftest import wait_until

    return wait_until(
        lambda: [r for r in engine.list() if r.parent_execution_id and r.status.is_terminal], what="the child to end"
    )
