"""Tests for step failures: StepError attributes, compensation, at-most-once semantics, serialization."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import ErrorObject, OperationStatus
from tests.sdk_examples.functions import step_at_most_once, step_error, step_error_handling, step_non_serializable
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_error.handler, lambda_function_name="step error")
def test_step_error_fails_execution(durable_runner):
    """The execution error is the StepError wrapper; the step keeps the original exception type."""
    with durable_runner:
        result = durable_runner.run(input={"card": "4111"}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.result is None
    assert result.error == ErrorObject(
        message="card 4111 declined", type="StepError", data=None, stack_trace=None
    )
    assert result.error.stack_trace is None

    assert result.get_step("reserve_stock").status is OperationStatus.SUCCEEDED
    charge = result.get_step("charge_card")
    assert charge.status is OperationStatus.FAILED
    assert charge.result is None
    assert charge.attempt == 1
    assert charge.error == ErrorObject(
        message="card 4111 declined", type="PaymentDeclinedError", data=None, stack_trace=None
    )


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_error_handling.handler, lambda_function_name="step error handling")
def test_step_error_caught_in_handler(durable_runner):
    """StepError carries message/error_type/data/stack_trace; __cause__ is rebuilt from the checkpoint."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "is_durable_operation_error": True,
        "message": "'inventory-42'",
        "str": "'inventory-42'",
        "error_type": "KeyError",
        "data": None,
        "stack_trace": None,
        "cause_type": "DurableOperationError",
        "compensation": "refunded",
    }
    assert [op.name for op in result.operations] == ["allocate", "compensate"]
    assert result.get_step("allocate").error.message == "'inventory-42'"


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_at_most_once.handler, lambda_function_name="step at most once")
def test_at_most_once_step_succeeds(durable_runner):
    """An at-most-once step runs once, like an at-least-once one, when nothing interrupts it."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "sent": "sent on attempt 1",
        "logged": "logged",
    }
    assert result.get_step("send_email").attempt == 1
    assert result.get_step("audit").attempt == 1


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_at_most_once.handler, lambda_function_name="step at most once")
def test_at_most_once_step_failure(durable_runner):
    """With RetryPresets.none() the at-most-once step fails after one attempt."""
    with durable_runner:
        result = durable_runner.run(input={"fail": True}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "StepError"
    assert result.error.message == "smtp unavailable"
    step = result.get_step("send_email")
    assert step.status is OperationStatus.FAILED
    assert step.attempt == 1
    assert len(result.operations) == 1


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_non_serializable.handler, lambda_function_name="step non serializable")
def test_step_result_not_serializable(durable_runner):
    """A value the default serdes cannot encode ends the execution with ExecutionError; the step stays STARTED."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "ExecutionError"
    assert result.error.message.startswith("Serialization failed for id: ")
    assert result.error.message.endswith(
        "error: Unsupported type: <class 'tests.sdk_examples.functions.step_non_serializable.Opaque'>."
    )
    step = result.get_step("opaque")
    assert step.status is OperationStatus.STARTED
    assert step.attempt == 0
