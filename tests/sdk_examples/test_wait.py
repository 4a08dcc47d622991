"""Tests for waits: durations, time skipping, validation, replay around a wait."""

import datetime

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import wait, wait_between_steps, wait_durations, wait_invalid
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait.handler, lambda_function_name="wait")
def test_wait(durable_runner):
    """A WAIT operation records its modeled duration in its timestamps."""
    with durable_runner:
        result = durable_runner.run(input="test", timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == "Wait completed"

    wait_op = result.get_wait("wait_5_seconds")
    assert wait_op.operation_type is OperationType.WAIT
    assert wait_op.sub_type is OperationSubType.WAIT
    assert wait_op.status is OperationStatus.SUCCEEDED
    assert isinstance(wait_op.start_timestamp, datetime.datetime)
    assert wait_op.start_timestamp.tzinfo is not None
    assert 5 <= (wait_op.end_timestamp - wait_op.start_timestamp).total_seconds() < 6
    assert isinstance(wait_op.scheduled_end_timestamp, datetime.datetime)
    scheduled = (wait_op.scheduled_end_timestamp - wait_op.start_timestamp).total_seconds()
    assert 4.9 <= scheduled <= 5.1


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_durations.handler, lambda_function_name="wait durations")
def test_wait_durations_are_skipped(durable_runner):
    """More than a day of waits completes in well under the 30 s execution timeout."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "seconds": 30,
        "minutes": 150,
        "hours": 3600,
        "days": 86400,
        "raw": 45,
    }
    assert [op.name for op in result.operations] == [
        "wait_seconds",
        "wait_minutes",
        "wait_hours",
        "wait_days",
        "wait_raw",
        None,
    ]
    for op, seconds in zip(result.operations, [30, 150, 3600, 86400, 45, 1], strict=True):
        assert op.operation_type is OperationType.WAIT
        modeled = (op.end_timestamp - op.start_timestamp).total_seconds()
        assert seconds <= modeled < seconds + 1
    # The waits are sequential: each starts after the previous ended.
    for earlier, later in zip(result.operations, result.operations[1:]):
        assert later.start_timestamp >= earlier.end_timestamp


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_invalid.handler, lambda_function_name="wait invalid")
def test_wait_validation_errors(durable_runner):
    """Negative durations and waits under a second raise ValidationError without any checkpoint."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "negative": "Duration seconds must be positive",
        "too_short": "duration must be at least 1 second",
    }
    assert result.operations == []


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_invalid.handler, lambda_function_name="wait invalid")
def test_zero_wait_fails_execution(durable_runner):
    """An uncaught ValidationError fails the execution with its own type."""
    with durable_runner:
        result = durable_runner.run(input={"raise": True}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "ValidationError"
    assert result.error.message == "duration must be at least 1 second"
    assert result.operations == []


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_between_steps.handler, lambda_function_name="wait between steps")
def test_steps_are_not_rerun_after_wait(durable_runner):
    """The handler runs twice (before and after the wait), but each step body runs once."""
    wait_between_steps.CALLS.clear()
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"first": "started", "second": "finished"}
    assert wait_between_steps.CALLS == ["before", "after"]
    assert [op.operation_type for op in result.operations] == [
        OperationType.STEP,
        OperationType.WAIT,
        OperationType.STEP,
    ]
    cool_down = result.get_wait("cool_down")
    assert (cool_down.end_timestamp - cool_down.start_timestamp) >= datetime.timedelta(hours=2)
    assert result.get_step("after_wait").start_timestamp >= cool_down.end_timestamp
