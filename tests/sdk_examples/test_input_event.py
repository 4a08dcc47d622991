"""Tests for the input event example."""

import json

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import input_event
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=input_event.handler, lambda_function_name="input event")
def test_input_event_dict(durable_runner):
    """A dict input reaches the handler as a dict; the result is json.dumps of the return value."""
    with durable_runner:
        result = durable_runner.run(input={"name": "Ada"}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '{"greeting": "Hello Ada!", "input": {"name": "Ada"}}'
    assert result.result == json.dumps({"greeting": "Hello Ada!", "input": {"name": "Ada"}})
    assert result.get_step("greet").result == '"Hello Ada!"'


@pytest.mark.example
@pytest.mark.durable_execution(handler=input_event.handler, lambda_function_name="input event")
def test_input_event_json_text(durable_runner):
    """Input given as JSON text is parsed before the handler sees it."""
    with durable_runner:
        result = durable_runner.run(input='{"name": "Grace", "tags": [1, 2]}', timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "greeting": "Hello Grace!",
        "input": {"name": "Grace", "tags": [1, 2]},
    }


@pytest.mark.example
@pytest.mark.durable_execution(handler=input_event.handler, lambda_function_name="input event")
def test_input_event_plain_text(durable_runner):
    """Non-JSON text arrives as a string, so the handler falls back to its default name."""
    with durable_runner:
        result = durable_runner.run(input="test", timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"greeting": "Hello World!", "input": "test"}
