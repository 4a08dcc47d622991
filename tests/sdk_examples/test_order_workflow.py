"""End-to-end test of the order workflow (steps, wait, parallel, wait_for_callback)."""

import json

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import OperationType
from tests.sdk_examples.functions import order_workflow


@pytest.mark.example
@pytest.mark.durable_execution(handler=order_workflow.handler, lambda_function_name="order workflow")
def test_order_workflow(durable_runner):
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"order_id": "o-77"}, timeout=60)
        callback_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="manager create callback id")
        durable_runner.send_callback_success(callback_id=callback_id, result=b"ok")
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=60)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {
        "status": "approved",
        "order_id": "o-77",
        "checks": ["fraud-ok", "stock-ok"],
        "approval": "ok",
    }
    assert [op.name for op in result.operations] == ["validate_order", "await_confirmation", "checks", "manager"]
    assert [op.operation_type for op in result.operations] == [
        OperationType.STEP,
        OperationType.WAIT,
        OperationType.CONTEXT,
        OperationType.CONTEXT,
    ]
    checks = result.get_context("checks")
    assert checks.get_context("parallel-branch-0").get_step("fraud_check").result == '"fraud-ok"'
    all_ops = result.get_all_operations()
    assert len(all_ops) == 10
    assert sum(op.operation_type is OperationType.STEP for op in all_ops) == 4
