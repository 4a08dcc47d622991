"""Tests for the step examples: a decorated step, named lambdas, arguments."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import step, step_decorator, step_named
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=step.handler, lambda_function_name="step")
def test_step(durable_runner):
    """A @durable_step is named after its function."""
    with durable_runner:
        result = durable_runner.run(input="test", timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == 8

    step_result = result.get_step("add_numbers")
    assert deserialize_operation_payload(step_result.result) == 8
    assert step_result.operation_type is OperationType.STEP
    assert step_result.sub_type is OperationSubType.STEP
    assert step_result.status is OperationStatus.SUCCEEDED
    assert step_result.attempt == 1
    assert step_result.error is None
    assert step_result.parent_id is None
    assert step_result.child_operations == []


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_named.handler, lambda_function_name="step named")
def test_step_names_and_order(durable_runner):
    """Operations are listed in creation order; a lambda without a name stays unnamed."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '{"first": 10, "second": 20, "third": 21}'
    assert [op.name for op in result.operations] == ["first_step", "second_step", None]
    assert [op.result for op in result.operations] == ["10", "20", "21"]
    assert len({op.operation_id for op in result.operations}) == 3


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_decorator.handler, lambda_function_name="step decorator")
def test_step_decorator_with_arguments(durable_runner):
    """Decorated steps take arguments; dict results are stored in the typed envelope."""
    with durable_runner:
        result = durable_runner.run(input={"user_id": "u1"}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "user": {"id": "u1", "active": False, "roles": ["reader", "writer"]},
        "roles": 2,
        "text": "u1 has 2 roles",
    }
    assert [op.name for op in result.operations] == ["fetch_user", "count_roles", "describe_user"]

    fetch_user = result.get_step("fetch_user")
    assert fetch_user.result == (
        '{"t":"m","v":{"id":{"t":"s","v":"u1"},"active":{"t":"b","v":false},'
        '"roles":{"t":"l","v":[{"t":"s","v":"reader"},{"t":"s","v":"writer"}]}}}'
    )
    assert deserialize_operation_payload(fetch_user.result)["roles"] == ["reader", "writer"]
    assert result.get_step("describe_user").result == '"u1 has 2 roles"'
