"""Testing a @durable_with_child_context block on its own with DurableChildContextTestRunner."""

import os

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import OperationType
from durable.testing import DurableChildContextTestRunner
from tests.sdk_examples.functions import child_context_unit
from tests.sdk_examples.payloads import deserialize_operation_payload

pytestmark = pytest.mark.skipif(
    os.environ.get("DURABLE_RUNNER_MODE") == "cloud", reason="local-only: runs the block in-process"
)


def test_child_context_block_in_isolation():
    """The block runs directly in the handler's root context: its operations are top-level."""
    with DurableChildContextTestRunner(child_context_unit.reserve_and_confirm, "sku-9", 2) as runner:
        result = runner.run(input=None, execution_timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"reservation": "res-sku-9-2", "confirmed": True}
    assert [op.name for op in result.operations] == ["reserve", "hold", "confirm"]
    assert result.get_wait("hold").operation_type is OperationType.WAIT
    hold = result.get_wait("hold")
    assert (hold.end_timestamp - hold.start_timestamp).total_seconds() >= 15 * 60


def test_child_context_block_keyword_arguments():
    """Keyword arguments are bound too."""
    with DurableChildContextTestRunner(child_context_unit.reserve_and_confirm, sku="sku-1", quantity=5) as runner:
        result = runner.run(execution_timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.get_step("reserve").result == '"res-sku-1-5"'
