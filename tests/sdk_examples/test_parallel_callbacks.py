"""Tests for callbacks inside parallel branches."""

import json

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import OperationStatus
from tests.sdk_examples.functions import parallel_callbacks


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel_callbacks.handler, lambda_function_name="parallel callbacks")
def test_parallel_callbacks(durable_runner):
    """Both callbacks are open at once; each branch completes with its own answer."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input={"approvers": ["legal", "cfo"]}, timeout=30)
        cfo_id = durable_runner.wait_for_callback(execution_arn=execution_arn, name="cfo_approval create callback id")
        legal_id = durable_runner.wait_for_callback(
            execution_arn=execution_arn, name="legal_approval create callback id"
        )
        durable_runner.send_callback_success(callback_id=cfo_id, result=b"cfo-yes")
        durable_runner.send_callback_success(callback_id=legal_id, result=b"legal-yes")
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"legal": "legal-yes", "cfo": "cfo-yes"}
    approvals = result.get_context("approvals")
    assert [c.name for c in approvals.child_operations] == ["legal", "cfo"]
    cfo = approvals.get_context("cfo").get_context("cfo_approval")
    assert [c.name for c in cfo.child_operations] == ["cfo_approval create callback id", "cfo_approval submitter"]
    callback_op = cfo.get_callback("cfo_approval create callback id")
    assert callback_op.callback_id == cfo_id
    assert callback_op.status is OperationStatus.SUCCEEDED
    assert callback_op.result == "cfo-yes"
