"""Tests for with_retry: retrying a block of durable operations."""

import json

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import with_retry_example
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=with_retry_example.handler, lambda_function_name="with retry")
def test_with_retry_succeeds_on_third_attempt(durable_runner):
    """Failed attempts keep their steps; backoff waits are named '{name}-backoff-{attempt}'."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"flight": "flight-3", "hotel": "hotel-3", "attempt": 3}
    ctx = result.get_context("book_trip")
    assert ctx.sub_type is OperationSubType.RUN_IN_CHILD_CONTEXT
    assert [op.name for op in ctx.child_operations] == [
        "book_flight_1",
        "book_trip-backoff-1",
        "book_flight_2",
        "book_trip-backoff-2",
        "book_flight_3",
        "book_hotel_3",
    ]
    backoff_1 = ctx.get_wait("book_trip-backoff-1")
    backoff_2 = ctx.get_wait("book_trip-backoff-2")
    assert 60 <= (backoff_1.end_timestamp - backoff_1.start_timestamp).total_seconds() < 61
    assert 120 <= (backoff_2.end_timestamp - backoff_2.start_timestamp).total_seconds() < 121
    assert deserialize_operation_payload(ctx.result)["attempt"] == 3


@pytest.mark.example
@pytest.mark.durable_execution(handler=with_retry_example.handler, lambda_function_name="with retry")
def test_with_retry_exhausted(durable_runner):
    """When retries run out, the wrapped block fails with ChildContextError."""
    with durable_runner:
        result = durable_runner.run(input={"max_attempts": 2}, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="hotel full on attempt 2", type="ChildContextError", data=None, stack_trace=None
    )
    ctx = result.get_context("book_trip")
    assert ctx.status is OperationStatus.FAILED
    assert ctx.error.type == "RuntimeError"
    assert [op.name for op in ctx.child_operations] == ["book_flight_1", "book_trip-backoff-1", "book_flight_2"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=with_retry_example.handler, lambda_function_name="with retry")
def test_with_retry_without_child_context(durable_runner):
    """wrap_with_run_in_child_context=False: operations are top-level and the original error escapes."""
    with durable_runner:
        result = durable_runner.run(input={"max_attempts": 2, "wrap": False}, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="hotel full on attempt 2", type="RuntimeError", data=None, stack_trace=None
    )
    assert [op.name for op in result.operations] == ["book_flight_1", "book_trip-backoff-1", "book_flight_2"]
    assert [op.operation_type for op in result.operations] == [
        OperationType.STEP,
        OperationType.WAIT,
        OperationType.STEP,
    ]
