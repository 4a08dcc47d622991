"""Tests for wait_for_callback: submitters, the decorator, config, errors and the operation tree."""

import json

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import (
    wait_for_callback,
    wait_for_callback_config,
    wait_for_callback_decorator,
    wait_for_callback_submitter_error,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_callback.handler, lambda_function_name="wait for callback")
def test_wait_for_callback(durable_runner):
    """A CONTEXT operation holds the CALLBACK '<name> create callback id' and the STEP '<name> submitter'."""
    wait_for_callback.SUBMITTED.clear()
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(
            execution_arn=execution_arn, name="external_approval create callback id"
        )
        durable_runner.send_callback_success(callback_id=callback_id, result=b'"approved"')
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"approval": '"approved"'}
    assert [callback_id] == wait_for_callback.SUBMITTED

    context_op = result.get_context("external_approval")
    assert context_op.operation_type is OperationType.CONTEXT
    assert context_op.sub_type is OperationSubType.WAIT_FOR_CALLBACK
    assert context_op.status is OperationStatus.SUCCEEDED
    assert deserialize_operation_payload(context_op.result) == '"approved"'
    assert [op.name for op in context_op.child_operations] == [
        "external_approval create callback id",
        "external_approval submitter",
    ]
    callback_op = context_op.get_callback("external_approval create callback id")
    assert callback_op.callback_id == callback_id
    assert callback_op.result == '"approved"'
    submitter = context_op.get_step("external_approval submitter")
    assert submitter.result == "null"
    assert submitter.parent_id == context_op.operation_id


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_callback.handler, lambda_function_name="wait for callback")
def test_wait_for_callback_name_is_the_callback_operation_name(durable_runner):
    """runner.wait_for_callback matches CALLBACK operations only, so the context name finds nothing."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=30)
        with pytest.raises(TimeoutError, match=r"Callback did not become available within 2s"):
            durable_runner.wait_for_callback(execution_arn=execution_arn, name="external_approval", timeout=2)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn)
        durable_runner.send_callback_success(callback_id=callback_id, result=b"late")
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"approval": "late"}


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_callback_decorator.handler, lambda_function_name="wait for callback decorator"
)
def test_wait_for_callback_decorator(durable_runner):
    """Without a name, the operations are named after the decorated submitter."""
    wait_for_callback_decorator.TICKETS.clear()
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"queue": "ops"}, timeout=30)
        callback_id = durable_runner.wait_for_callback(
            execution_arn=execution_arn, name="open_ticket create callback id"
        )
        durable_runner.send_callback_success(callback_id=callback_id, result=b"42")
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '{"answer": "42"}'
    assert [
        {"callback_id": callback_id, "queue": "ops", "priority": 2}
    ] == wait_for_callback_decorator.TICKETS
    ctx = result.get_context("open_ticket")
    assert [op.name for op in ctx.child_operations] == [
        "open_ticket create callback id",
        "open_ticket submitter",
    ]


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_callback_config.handler, lambda_function_name="wait for callback config")
def test_wait_for_callback_submitter_retried(durable_runner):
    """The submitter step uses WaitForCallbackConfig.retry_strategy: two failures, 5 s + 10 s backoff."""
    wait_for_callback_config.ATTEMPTS.clear()
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"submit_failures": 2}, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="review create callback id")
        durable_runner.send_callback_success(callback_id=callback_id, result=b'"lgtm"')
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"status": "done", "value": '"lgtm"'}
    # Every attempt got the same callback id.
    assert [callback_id] * 3 == wait_for_callback_config.ATTEMPTS
    submitter = result.get_context("review").get_step("review submitter")
    assert submitter.attempt == 3
    assert (submitter.end_timestamp - submitter.start_timestamp).total_seconds() >= 15


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait_for_callback_config.handler, lambda_function_name="wait for callback config")
def test_wait_for_callback_timeout(durable_runner):
    """WaitForCallbackConfig.timeout: the callback times out; the context records CallbackTimeoutError."""
    with durable_runner:
        result = durable_runner.run(input={"timeout": 2}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "status": "timed_out",
        "message": "Callback timed out",
    }
    ctx = result.get_context("review")
    assert ctx.status is OperationStatus.FAILED
    assert ctx.error == ErrorObject(
        message="Callback timed out", type="CallbackTimeoutError", data=None, stack_trace=None
    )
    assert ctx.get_callback("review create callback id").status is OperationStatus.TIMED_OUT


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_callback_submitter_error.handler,
    lambda_function_name="wait for callback submitter error",
)
def test_wait_for_callback_submitter_error_caught(durable_runner):
    """A failing submitter surfaces as CallbackSubmitterError with the StepError as its cause."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "is_callback_error": True,
        "message": "not allowed to submit",
        "error_type": "CallbackSubmitterError",
        "cause": "StepError",
        "cause_is_step_error": True,
    }
    ctx = result.get_context("submit")
    assert ctx.status is OperationStatus.FAILED
    assert ctx.error.type == "StepError"
    submitter = ctx.get_step("submit submitter")
    assert submitter.status is OperationStatus.FAILED
    assert submitter.error == ErrorObject(
        message="not allowed to submit", type="PermissionError", data=None, stack_trace=None
    )
    # The callback itself was created and is still open.
    assert ctx.get_callback("submit create callback id").status is OperationStatus.STARTED


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=wait_for_callback_submitter_error.handler,
    lambda_function_name="wait for callback submitter error",
)
def test_wait_for_callback_submitter_error_uncaught(durable_runner):
    """Uncaught, it fails the execution with type CallbackSubmitterError."""
    with durable_runner:
        result = durable_runner.run(input={"catch": False}, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="not allowed to submit", type="CallbackSubmitterError", data=None, stack_trace=None
    )
