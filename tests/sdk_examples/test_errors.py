"""Tests for execution failures raised by the handler itself."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import ErrorObject, OperationStatus
from tests.sdk_examples.functions import handler_error, non_serializable_result


@pytest.mark.example
@pytest.mark.durable_execution(handler=handler_error.handler, lambda_function_name="handler error")
def test_handler_error(durable_runner):
    """A plain exception: type is the class name, message is str(e), no data and no stack trace."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.result is None
    assert result.error == ErrorObject(
        message="something went wrong", type="ValueError", data=None, stack_trace=None
    )
    assert result.error.to_dict() == {"ErrorMessage": "something went wrong", "ErrorType": "ValueError"}
    # Operations completed before the failure are still reported.
    assert result.get_step("validate").status is OperationStatus.SUCCEEDED


@pytest.mark.example
@pytest.mark.durable_execution(handler=handler_error.handler, lambda_function_name="handler error")
def test_handler_custom_error_type(durable_runner):
    """A user-defined exception class name becomes the error type."""
    with durable_runner:
        result = durable_runner.run(input={"kind": "custom", "order_id": "o9"}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "OrderRejectedError"
    assert result.error.message == "order o9 rejected"
    assert result.error.data is None
    assert result.error.stack_trace is None


@pytest.mark.example
@pytest.mark.durable_execution(handler=non_serializable_result.handler, lambda_function_name="non serializable result")
def test_non_json_handler_result(durable_runner):
    """The handler's return value goes through json.dumps: a datetime fails the execution."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="Object of type datetime is not JSON serializable",
        type="TypeError",
        data=None,
        stack_trace=None,
    )


@pytest.mark.example
@pytest.mark.durable_execution(handler=non_serializable_result.handler, lambda_function_name="non serializable result")
def test_json_handler_result(durable_runner):
    """Returning the ISO string instead works."""
    with durable_runner:
        result = durable_runner.run(input={"stringify": True}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '{"at": "2024-01-01T00:00:00"}'
