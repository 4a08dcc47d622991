"""Tests for child contexts: run_in_child_context, the decorator, ChildConfig, errors."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.testing.exceptions import DurableFunctionsTestError
from tests.sdk_examples.functions import (
    child_context,
    child_context_config,
    child_context_decorator,
    child_context_error,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context.handler, lambda_function_name="child context")
def test_child_context(durable_runner):
    """The child's operations hang under one CONTEXT operation; lookups on the result are top-level only."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "order": {"validated": True, "total": 42},
        "receipt": "receipt for 42",
    }
    assert [op.name for op in result.operations] == ["process_order", "receipt"]

    ctx = result.get_context("process_order")
    assert ctx.operation_type is OperationType.CONTEXT
    assert ctx.sub_type is OperationSubType.RUN_IN_CHILD_CONTEXT
    assert ctx.status is OperationStatus.SUCCEEDED
    assert deserialize_operation_payload(ctx.result) == {"validated": True, "total": 42}
    assert [op.name for op in ctx.child_operations] == ["validate", "settle", "total"]
    assert all(op.parent_id == ctx.operation_id for op in ctx.child_operations)
    assert ctx.get_step("total").result == "42"
    assert (ctx.get_wait("settle").end_timestamp - ctx.get_wait("settle").start_timestamp).total_seconds() >= 10

    with pytest.raises(DurableFunctionsTestError, match="Operation with name 'validate' not found"):
        result.get_step("validate")
    with pytest.raises(DurableFunctionsTestError, match="Child Operation with name 'receipt' not found"):
        ctx.get_step("receipt")


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context_decorator.handler, lambda_function_name="child context decorator")
def test_nested_child_contexts(durable_runner):
    """@durable_with_child_context names the context after the function; nesting is two levels."""
    with durable_runner:
        result = durable_runner.run(input={"value": 5}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == "20"
    outer = result.get_context("outer_block")
    assert [op.name for op in outer.child_operations] == ["outer_double", "inner_block"]
    inner = outer.get_context("inner_block")
    assert inner.parent_id == outer.operation_id
    assert inner.get_step("double").result == "20"
    assert outer.get_step("outer_double").result == "10"
    all_names = sorted(op.name for op in result.get_all_operations())
    assert all_names == ["double", "inner_block", "outer_block", "outer_double"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context_error.handler, lambda_function_name="child context error")
def test_child_context_error_caught(durable_runner):
    """ChildContextError keeps the inner error's type and message."""
    with durable_runner:
        result = durable_runner.run(input={}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "message": "block failed",
        "error_type": "ValueError",
        "cause": "DurableOperationError",
    }
    ctx = result.get_context("risky_block")
    assert ctx.status is OperationStatus.FAILED
    assert ctx.error == ErrorObject(message="block failed", type="ValueError", data=None, stack_trace=None)
    assert ctx.get_step("safe_step").status is OperationStatus.SUCCEEDED


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context_error.handler, lambda_function_name="child context error")
def test_child_context_error_uncaught(durable_runner):
    """Uncaught, the execution fails with type ChildContextError."""
    with durable_runner:
        result = durable_runner.run(input={"catch": False}, timeout=10)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="block failed", type="ChildContextError", data=None, stack_trace=None
    )


@pytest.mark.example
@pytest.mark.durable_execution(handler=child_context_config.handler, lambda_function_name="child context config")
def test_child_config(durable_runner):
    """ChildConfig(serdes=...) shapes the stored result; a virtual child leaves no CONTEXT operation."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "summary": {"count": 3, "ok": True},
        "virtual": "inside virtual",
    }
    summarize = result.get_context("summarize")
    assert summarize.result == '{"COUNT": 3, "OK": true}'
    assert [op.name for op in result.operations] == ["summarize", "virtual_step"]
    virtual_step = result.get_step("virtual_step")
    assert virtual_step.parent_id is None
    with pytest.raises(DurableFunctionsTestError):
        result.get_context("virtual_group")
