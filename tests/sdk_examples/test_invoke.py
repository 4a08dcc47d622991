"""Chained invoke: the local runner runs the invoked function too (the AWS local runner cannot)."""

import json

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import hello_world, invoke


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=invoke.handler, lambda_function_name="invoke", functions={"hello-world": hello_world.handler}
)
def test_invoke(durable_runner):
    with durable_runner:
        result = durable_runner.run(input={"name": "Ada"}, timeout=120)

    assert result.status is InvocationStatus.SUCCEEDED
    assert "greeting" in json.loads(result.result)
    assert result.get_invoke("call_hello").result is not None
