"""Tests of the test runner's own surface, as an examples suite uses it."""

import dataclasses
import json
import time

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import OperationType
from durable.testing.exceptions import (
    DurableFunctionsTestError,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from durable.testing.runner import (
    CallbackOperation,
    ContextOperation,
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
    StepOperation,
    WaitOperation,
)
from tests.sdk_examples.functions import callback, child_context, order_workflow, parallel, wait


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context.handler, lambda_function_name="child context")
def test_result_shape_and_operation_classes(durable_runner):
    """The result is a frozen dataclass; each operation has a view class by type."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert isinstance(result, DurableFunctionTestResult)
    assert dataclasses.is_dataclass(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = InvocationStatus.FAILED  # type: ignore[misc]
    ctx = result.get_context("process_order")
    assert type(ctx) is ContextOperation
    assert type(ctx.get_step("validate")) is StepOperation
    assert type(ctx.get_wait("settle")) is WaitOperation
    assert isinstance(result.get_step("receipt"), StepOperation)
    # get_operation_by_name returns any type.
    assert result.get_operation_by_name("process_order") is ctx
    assert ctx.get_operation_by_name("settle").operation_type is OperationType.WAIT


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel.handler, lambda_function_name="parallel")
def test_get_all_operations(durable_runner):
    """get_all_operations flattens the tree; lookups by name do not."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    all_ops = result.get_all_operations()
    assert len(result.operations) == 1
    assert len(all_ops) == 1 + 3 + 4
    assert sorted(op.name for op in all_ops) == sorted([
        "product_details",
        "parallel-branch-0",
        "parallel-branch-1",
        "parallel-branch-2",
        "inventory",
        "rate_limit",
        "price",
        "reviews",
    ])
    with pytest.raises(DurableFunctionsTestError, match="Operation with name 'price' not found"):
        result.get_step("price")


@pytest.mark.example
@pytest.mark.durable_execution(handler=wait.handler, lambda_function_name="wait")
def test_lookup_does_not_check_the_type(durable_runner):
    """get_step on a WAIT returns the WaitOperation unchanged (a cast, not a filter)."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    op = result.get_step("wait_5_seconds")
    assert type(op) is WaitOperation
    assert not hasattr(op, "child_operations")


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_callback_operation_is_a_context_operation(durable_runner):
    """CallbackOperation and StepOperation subclass ContextOperation."""
    with durable_runner:
        arn = durable_runner.run_async(input=None, timeout=30)
        callback_id = durable_runner.wait_for_callback(execution_arn=arn, name="approval_callback")
        durable_runner.send_callback_success(callback_id=callback_id, result=b"x")
        result = durable_runner.wait_for_result(execution_arn=arn, timeout=30)

    callback_op = result.get_callback("approval_callback")
    assert type(callback_op) is CallbackOperation
    assert isinstance(callback_op, ContextOperation)
    assert isinstance(result.get_step("notify_approver"), ContextOperation)
    assert callback_op.child_operations == []


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_wait_for_result_times_out_in_real_time(durable_runner):
    """wait_for_result does not skip time while a callback is open: it gives up after `timeout` real seconds."""
    with durable_runner:
        arn = durable_runner.run_async(input=None, timeout=30)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="Execution did not complete within timeout"):
            durable_runner.wait_for_result(execution_arn=arn, timeout=1)
        assert 0.9 <= time.monotonic() - start < 5
        # The execution is still waiting: its callback can be answered.
        callback_id = durable_runner.wait_for_callback(execution_arn=arn)
        durable_runner.send_callback_success(callback_id=callback_id, result=b"x")


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_wait_for_result_after_a_timed_out_wait(durable_runner):
    """A timed-out wait_for_result leaves the execution alone; a later wait returns its result.

    Deliberate difference: the AWS runner drops the completion after a timed-out wait, so its later wait fails.
    """
    with durable_runner:
        arn = durable_runner.run_async(input=None, timeout=30)
        with pytest.raises(TimeoutError):
            durable_runner.wait_for_result(execution_arn=arn, timeout=1)
        callback_id = durable_runner.wait_for_callback(execution_arn=arn)
        durable_runner.send_callback_success(callback_id=callback_id, result=b"x")
        result = durable_runner.wait_for_result(execution_arn=arn, timeout=10)
        assert result.status is InvocationStatus.SUCCEEDED


@pytest.mark.example
@pytest.mark.durable_execution(handler=callback.handler, lambda_function_name="callback")
def test_callback_api_errors(durable_runner):
    """Unknown or empty callback ids are rejected with the runner's AWS-style exceptions."""
    with durable_runner:
        arn = durable_runner.run_async(input=None, timeout=30)
        with pytest.raises(InvalidParameterValueException, match="callback_id is required"):
            durable_runner.send_callback_success(callback_id="", result=b"x")
        with pytest.raises(ResourceNotFoundException, match="Failed to process callback heartbeat"):
            durable_runner.send_callback_heartbeat(callback_id="bogus")
        callback_id = durable_runner.wait_for_callback(execution_arn=arn)
        durable_runner.send_callback_success(callback_id=callback_id, result=b"x")
        durable_runner.wait_for_result(execution_arn=arn, timeout=30)
        with pytest.raises(ResourceNotFoundException, match="Failed to process callback failure"):
            durable_runner.send_callback_failure(callback_id=callback_id)


def test_runner_used_directly():
    """The runner works without the fixture; run() takes execution_timeout and the default names."""
    with DurableFunctionTestRunner(handler=order_workflow.handler) as runner:
        arn = runner.run_async(input=json.dumps({"order_id": "o-1"}), execution_timeout=30)
        assert isinstance(arn, str)
        callback_id = runner.wait_for_callback(execution_arn=arn)
        runner.send_callback_success(callback_id=callback_id, result=b"direct")
        result = runner.wait_for_result(execution_arn=arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result)["approval"] == "direct"


def test_run_timeout_is_deprecated():
    """run(timeout=...) still works but warns."""
    with DurableFunctionTestRunner(handler=wait.handler) as runner:
        with pytest.warns(DeprecationWarning, match="timeout on run\\(\\) is deprecated"):
            result = runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
