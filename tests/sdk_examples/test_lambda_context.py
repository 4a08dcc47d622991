"""Tests for what the handler can read about its run."""

import json

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import lambda_context_info


@pytest.mark.example
@pytest.mark.durable_execution(handler=lambda_context_info.handler, lambda_function_name="lambda context info")
def test_lambda_context_and_execution_arn(durable_runner):
    """The local runner passes a test Lambda context; the execution ARN is stable across the run."""
    with durable_runner:
        execution_arn = durable_runner.run_async(input=None, timeout=10)
        result = durable_runner.wait_for_result(execution_arn=execution_arn, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {
        "has_arn": True,
        "arn_in_step": True,
        "request_id": "test-invoke-12345",
        "is_replaying": False,
    }
    assert json.loads(result.get_step("record_arn").result) == execution_arn
