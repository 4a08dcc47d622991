"""Tests for wait_for_condition: built-in and custom wait strategies, jitter, exhaustion."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import (
    wait_for_condition,
    wait_for_condition_custom,
    wait_for_condition_exhausted,
    wait_for_condition_jitter,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


def _modeled_seconds(operation) -> float:
    return (operation.end_timestamp - operation.start_timestamp).total_seconds()


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_condition.handler, lambda_function_name="wait for condition")
def test_wait_for_condition(durable_runner):
    """Three checks with 30 s then 60 s between them; one STEP operation holds the final state."""
    with durable_runner:
        result = durable_runner.run(input={"target": 3}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"polls": 3, "done": True}

    op = result.get_step("wait_for_job")
    assert op.operation_type is OperationType.STEP
    assert op.sub_type is OperationSubType.WAIT_FOR_CONDITION
    assert op.status is OperationStatus.SUCCEEDED
    assert op.attempt == 3
    assert deserialize_operation_payload(op.result) == {"polls": 3, "done": True}
    assert 90 <= _modeled_seconds(op) < 100
    assert len(result.operations) == 1


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_condition.handler, lambda_function_name="wait for condition")
def test_wait_for_condition_met_immediately(durable_runner):
    """A condition met on the first check needs no wait."""
    with durable_runner:
        result = durable_runner.run(input={"target": 1}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    op = result.get_step("wait_for_job")
    assert op.attempt == 1
    assert _modeled_seconds(op) < 1


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_condition_custom.handler, lambda_function_name="wait for condition custom"
)
def test_custom_wait_strategy(durable_runner):
    """0 -> 2 -> 4 -> 6 with a fixed 10 s between checks."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == "6"
    op = result.get_step("count_to_five")
    assert op.attempt == 3
    assert op.result == "6"
    assert 20 <= _modeled_seconds(op) < 25


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_condition_exhausted.handler, lambda_function_name="wait for condition exhausted"
)
def test_wait_for_condition_exhausted(durable_runner):
    """After max_attempts checks the operation fails with WaitForConditionError."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=30)

    expected = ErrorObject(
        message="wait_for_condition exhausted 3 attempts before the condition was met",
        type="WaitForConditionError",
        data=None,
        stack_trace=None,
    )
    assert result.status is InvocationStatus.FAILED
    assert result.error == expected
    op = result.get_step("never_ready")
    assert op.status is OperationStatus.FAILED
    assert op.attempt == 3
    assert op.error == expected
    # 5 s then 7.5 s rounded up to 8 s.
    assert 13 <= _modeled_seconds(op) < 18


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_condition_exhausted.handler, lambda_function_name="wait for condition exhausted"
)
def test_wait_for_condition_error_caught(durable_runner):
    """The handler can catch WaitForConditionError."""
    with durable_runner:
        result = durable_runner.run(input={"catch": True}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "caught": "WaitForConditionError",
        "message": "wait_for_condition exhausted 3 attempts before the condition was met",
        "error_type": "WaitForConditionError",
    }


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_condition_jitter.handler, lambda_function_name="wait for condition jitter"
)
@pytest.mark.parametrize(
    ("jitter", "min_seconds", "max_seconds"),
    [("NONE", 95, 100), ("HALF", 47, 100), ("FULL", 3, 100)],
)
def test_wait_strategy_jitter(durable_runner, jitter, min_seconds, max_seconds):
    """Delays 20, 30, 45 s without jitter; half jitter keeps at least half; full jitter anything >= 1 s."""
    with durable_runner:
        result = durable_runner.run(input={"jitter": jitter}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"jitter": jitter, "attempts": [1, 2, 3, 4]}
    op = result.get_step(f"poll_{jitter.lower()}")
    assert op.result == "[1,2,3,4]"
    assert min_seconds <= _modeled_seconds(op) < max_seconds
