"""Tests for the hello world example."""

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import hello_world
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=hello_world.handler, lambda_function_name="hello world")
def test_hello_world(durable_runner):
    """The handler returns its greeting; no durable operation is recorded."""
    with durable_runner:
        result = durable_runner.run(input="test", timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == "Hello World!"
    assert result.result == '"Hello World!"'
    assert result.error is None
    assert result.operations == []


@pytest.mark.example
@pytest.mark.durable_execution(handler=hello_world.handler, lambda_function_name="hello world")
def test_hello_world_without_input(durable_runner):
    """No input at all is fine."""
    with durable_runner:
        result = durable_runner.run(timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '"Hello World!"'
