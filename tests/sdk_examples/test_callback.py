"""Tests for create_callback: success, payload handling, failure, timeouts, heartbeats."""

import json
import time

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.testing.exceptions import ResourceNotFoundException
from tests.sdk_examples.functions import (
    callback,
    callback_failure,
    callback_heartbeat,
    callback_multiple,
    callback_serdes,
    callback_timeout,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_callback_success(durable_runner):
    """The payload sent by the test reaches callback.result() as the raw string (pass-through)."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="approval_callback")
        durable_runner.send_callback_success(callback_id=callback_id, result=json.dumps({"approved": True}).encode())
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    payload = json.loads(result.result)
    assert payload["callback_id"] == callback_id
    assert payload["approval"] == '{"approved": true}'

    callback_op = result.get_callback("approval_callback")
    assert callback_op.operation_type is OperationType.CALLBACK
    assert callback_op.sub_type is OperationSubType.CALLBACK
    assert callback_op.status is OperationStatus.SUCCEEDED
    assert callback_op.callback_id == callback_id
    assert callback_op.result == '{"approved": true}'
    assert callback_op.error is None
    # The step after create_callback ran in the first invocation and recorded the id.
    assert deserialize_operation_payload(result.get_step("notify_approver").result) == callback_id
    assert [op.name for op in result.operations] == ["approval_callback", "notify_approver"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_callback_latest_when_unnamed_and_empty_result(durable_runner):
    """wait_for_callback without a name finds the open callback; a None result is recorded as None."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn)
        durable_runner.send_callback_success(callback_id=callback_id, result=None)
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result)["approval"] is None
    assert result.get_callback("approval_callback").result is None


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_callback_cannot_be_completed_twice(durable_runner):
    """A second answer to a finished callback is rejected."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="approval_callback")
        durable_runner.send_callback_success(callback_id=callback_id, result=b'"first"')
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)
        with pytest.raises(ResourceNotFoundException, match="Failed to process callback success"):
            durable_runner.send_callback_success(callback_id=callback_id, result=b'"second"')

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result)["approval"] == '"first"'


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_serdes.handler, lambda_function_name="callback serdes")
def test_callback_with_serdes(durable_runner):
    """CallbackConfig(serdes=...) decodes the payload; the operation keeps the raw text."""
    payload = '{"status": "shipped", "items": [1,2]}'
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="order_update")
        durable_runner.send_callback_success(callback_id=callback_id, result=payload.encode())
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '{"status": "shipped", "items": 2}'
    assert result.get_callback("order_update").result == payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_failure.handler, lambda_function_name="callback failure")
def test_callback_failure_caught(durable_runner):
    """send_callback_failure raises CallbackExternalError in the handler with the sent message and data."""
    error = ErrorObject(message="card declined", type="PaymentError", data='{"code": 51}', stack_trace=None)
    with durable_runner:
        execution_arn = durable_runner.run_async(input={}, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="payment_callback")
        durable_runner.send_callback_failure(callback_id=callback_id, error=error)
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "failed": True,
        "message": "card declined",
        "error_type": "CallbackExternalError",
        "data": '{"code": 51}',
    }
    callback_op = result.get_callback("payment_callback")
    assert callback_op.status is OperationStatus.FAILED
    # The operation keeps the external error's own type.
    assert callback_op.error == error


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_failure.handler, lambda_function_name="callback failure")
def test_callback_failure_without_details(durable_runner):
    """A failure with no error object surfaces as 'Callback failed' and fails the execution."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"catch": False}, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="payment_callback")
        durable_runner.send_callback_failure(callback_id=callback_id)
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="Callback failed", type="CallbackExternalError", data=None, stack_trace=None
    )
    callback_op = result.get_callback("payment_callback")
    assert callback_op.status is OperationStatus.FAILED
    assert callback_op.error == ErrorObject(message=None, type=None, data=None, stack_trace=None)


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_failure.handler, lambda_function_name="callback failure")
def test_callback_failure_from_message(durable_runner):
    """ErrorObject.from_message builds an error with only a message."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"catch": False}, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn)
        durable_runner.send_callback_failure(
            callback_id=callback_id, error=ErrorObject.from_message("rejected by reviewer")
        )
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "CallbackExternalError"
    assert result.error.message == "rejected by reviewer"
    assert result.get_callback("payment_callback").error.type is None


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_timeout.handler, lambda_function_name="callback timeout")
def test_callback_timeout_caught(durable_runner):
    """Nobody answers: after its 2 s timeout the callback is TIMED_OUT and the handler catches it."""
    with durable_runner:
        start = time.monotonic()
        result = durable_runner.run(input={}, timeout=30)
        elapsed = time.monotonic() - start

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "timed_out": True,
        "is_callback_error": True,
        "message": "Callback timed out",
        "error_type": "CallbackTimeoutError",
    }
    callback_op = result.get_callback("short_callback")
    assert callback_op.status is OperationStatus.TIMED_OUT
    assert callback_op.error == ErrorObject(
        message="Callback timed out", type="Callback.Timeout", data=None, stack_trace=None
    )
    # Callback timeouts are not skipped: they take real time.
    assert elapsed >= 2


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_timeout.handler, lambda_function_name="callback timeout")
def test_callback_timeout_uncaught(durable_runner):
    """An uncaught CallbackTimeoutError fails the execution."""
    with durable_runner:
        result = durable_runner.run(input={"catch": False}, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="Callback timed out", type="CallbackTimeoutError", data=None, stack_trace=None
    )


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_heartbeat.handler, lambda_function_name="callback heartbeat")
def test_callback_heartbeats_keep_it_alive(durable_runner):
    """Heartbeats every second beat the 2 s heartbeat timeout."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="long_running_job")
        for _ in range(3):
            time.sleep(1)
            durable_runner.send_callback_heartbeat(callback_id=callback_id)
        durable_runner.send_callback_success(callback_id=callback_id, result=b'"done"')
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"outcome": "completed", "payload": '"done"'}
    callback_op = result.get_callback("long_running_job")
    assert callback_op.status is OperationStatus.SUCCEEDED
    assert (callback_op.end_timestamp - callback_op.start_timestamp).total_seconds() >= 3


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_heartbeat.handler, lambda_function_name="callback heartbeat")
def test_callback_heartbeat_missed(durable_runner):
    """Without heartbeats the callback times out on its heartbeat timeout."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "outcome": "heartbeat_missed",
        "message": "Callback timed out on heartbeat",
    }
    callback_op = result.get_callback("long_running_job")
    assert callback_op.status is OperationStatus.TIMED_OUT
    assert callback_op.error.type == "Callback.Heartbeat"
    assert callback_op.error.message == "Callback timed out on heartbeat"


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_multiple.handler, lambda_function_name="callback multiple")
def test_multiple_callbacks_by_name(durable_runner):
    """Two open callbacks; each is found by name and answered out of order."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        finance_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="finance_approval")
        manager_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="manager_approval")
        assert finance_id != manager_id
        durable_runner.send_callback_success(callback_id=finance_id, result=b"finance-ok")
        durable_runner.send_callback_success(callback_id=manager_id, result=b"manager-ok")
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"manager": "manager-ok", "finance": "finance-ok"}
    assert [op.name for op in result.operations] == ["manager_approval", "finance_approval"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback_multiple.handler, lambda_function_name="callback multiple")
def test_unanswered_callback_hits_execution_timeout(durable_runner):
    """The execution timeout is real time: an unanswered callback fails the execution when it expires."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=3)
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="Execution timed out after 3 seconds.", type=None, data=None, stack_trace=None
    )
    assert {op.status for op in result.operations} == {OperationStatus.STARTED}
