"""Tests for context.map: iteration naming, concurrency, completion rules, BatchResult, nesting."""

import json

import pytest

from durable.concurrency.models import BatchResult, CompletionReason
from durable.execution import InvocationStatus
from durable.lambda_service import (
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import (
    map_batch_result,
    map_completion_config,
    map_item_namer,
    map_nesting,
    map_operations,
    map_validation,
    map_with_max_concurrency,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_operations.handler, lambda_function_name="map operations")
def test_map(durable_runner):
    """Each item runs in a MapIteration context named map-item-{index}."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == "[1, 4, 9, 16, 25]"

    map_op = result.get_context("square_numbers")
    assert map_op.operation_type is OperationType.CONTEXT
    assert map_op.sub_type is OperationSubType.MAP
    assert [c.name for c in map_op.child_operations] == [f"map-item-{i}" for i in range(5)]
    assert {c.sub_type for c in map_op.child_operations} == {OperationSubType.MAP_ITERATION}
    item_2 = map_op.get_context("map-item-2")
    assert item_2.result == "9"
    assert item_2.get_step("square_2").result == "9"

    batch = deserialize_operation_payload(map_op.result)
    assert isinstance(batch, BatchResult)
    assert batch.get_results() == [1, 4, 9, 16, 25]
    assert batch.completion_reason is CompletionReason.ALL_COMPLETED
    assert map_op.result.startswith('{"t":"br","v":{"all":')


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_with_max_concurrency.handler, lambda_function_name="map with max concurrency")
def test_map_max_concurrency(durable_runner):
    """No more than two items run at once; results keep input order."""
    map_with_max_concurrency.PEAK.clear()
    with durable_runner:
        result = durable_runner.run(input={"items": ["a", "b", "c", "d", "e"]}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == ["A", "B", "C", "D", "E"]
    assert max(map_with_max_concurrency.PEAK) <= 2
    map_op = result.get_context("bounded_map")
    assert len(map_op.child_operations) == 5
    assert map_op.get_context("map-item-4").get_step("process_e").result == '"E"'


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_completion_config.handler, lambda_function_name="map completion config")
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "default",  # no criteria: the first failure stops the map
            {"results": [10], "errors": ["negative item -2"], "success_count": 1, "failure_count": 1,
             "total_count": 2, "completion_reason": "FAILURE_TOLERANCE_EXCEEDED"},
        ),
        (
            "all_successful",
            {"results": [10], "errors": ["negative item -2"], "success_count": 1, "failure_count": 1,
             "total_count": 2, "completion_reason": "FAILURE_TOLERANCE_EXCEEDED"},
        ),
        (
            "all_completed",
            {"results": [10, 30, 50, 60], "errors": ["negative item -2", "negative item -4"],
             "success_count": 4, "failure_count": 2, "total_count": 6, "completion_reason": "ALL_COMPLETED"},
        ),
        (
            "first_successful",
            {"results": [10], "errors": [], "success_count": 1, "failure_count": 0,
             "total_count": 1, "completion_reason": "MIN_SUCCESSFUL_REACHED"},
        ),
        (
            "tolerate_two",
            {"results": [10, 30, 50, 60], "errors": ["negative item -2", "negative item -4"],
             "success_count": 4, "failure_count": 2, "total_count": 6, "completion_reason": "ALL_COMPLETED"},
        ),
        (
            "tolerate_half",
            {"results": [10, 30, 50, 60], "errors": ["negative item -2", "negative item -4"],
             "success_count": 4, "failure_count": 2, "total_count": 6, "completion_reason": "ALL_COMPLETED"},
        ),
        (
            "min_two",
            {"results": [10, 30], "errors": ["negative item -2"], "success_count": 2, "failure_count": 1,
             "total_count": 3, "completion_reason": "MIN_SUCCESSFUL_REACHED"},
        ),
    ],
)
def test_map_completion_config(durable_runner, mode, expected):
    """With max_concurrency=1 the completion rule decides how many items ever start."""
    with durable_runner:
        result = durable_runner.run(input={"mode": mode, "items": [1, -2, 3, -4, 5, 6]}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    summary = json.loads(result.result)
    for key, value in expected.items():
        assert summary[key] == value, key
    assert summary["started_count"] == 0
    assert summary["status"] == ("FAILED" if expected["failure_count"] else "SUCCEEDED")
    assert summary["has_failure"] is bool(expected["failure_count"])
    map_op = result.get_context("checks")
    assert map_op.status is OperationStatus.SUCCEEDED
    assert len(map_op.child_operations) == expected["total_count"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_item_namer.handler, lambda_function_name="map item namer")
def test_map_item_namer(durable_runner):
    """item_namer replaces map-item-{index}."""
    with durable_runner:
        result = durable_runner.run(input={"orders": [{"id": "A1"}, {"id": "B2"}]}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == ["shipped A1", "shipped B2"]
    map_op = result.get_context("ship_orders")
    assert [c.name for c in map_op.child_operations] == ["order-A1", "order-B2"]
    assert map_op.get_context("order-B2").get_step("ship").result == '"shipped B2"'


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_batch_result.handler, lambda_function_name="map batch result")
def test_map_batch_result_methods(durable_runner):
    """succeeded()/failed()/get_errors()/throw_if_error() on a map with failed items."""
    records = [{"id": 1, "email": "A@X.COM"}, {"id": 2}, {"id": 3, "email": "c@x.com"}, {"id": 4}]
    with durable_runner:
        result = durable_runner.run(input={"records": records}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "succeeded": [0, 2],
        "failed": [1, 3],
        "failed_statuses": ["FAILED", "FAILED"],
        "error_types": ["LookupError", "LookupError"],
        "all_completed": True,
        "first_status": True,
        "as_dict_keys": ["all", "completionReason"],
        "thrown": {"message": "record 2 has no email", "error_type": "LookupError"},
    }
    map_op = result.get_context("validate_records")
    statuses = [c.status for c in map_op.child_operations]
    assert statuses == [
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
    ]
    failed_item = map_op.get_context("map-item-1")
    assert failed_item.error.type == "LookupError"
    assert failed_item.error.message == "record 2 has no email"
    batch = deserialize_operation_payload(map_op.result)
    assert [e.message for e in batch.get_errors()] == ["record 2 has no email", "record 4 has no email"]
    assert batch.get_results() == [{"id": 1, "email": "a@x.com"}, {"id": 3, "email": "c@x.com"}]


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_nesting.handler, lambda_function_name="map nesting")
@pytest.mark.parametrize("nesting", ["NESTED", "FLAT"])
def test_map_nesting(durable_runner, nesting):
    """FLAT puts the item operations directly under the map operation."""
    with durable_runner:
        result = durable_runner.run(input={"nesting": nesting}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == ["0:a", "1:b", "2:c"]
    map_op = result.get_context("labels")
    if nesting == "FLAT":
        assert [c.name for c in map_op.child_operations] == ["label_a", "label_b", "label_c"]
        assert {c.operation_type for c in map_op.child_operations} == {OperationType.STEP}
    else:
        assert [c.name for c in map_op.child_operations] == ["map-item-0", "map-item-1", "map-item-2"]
        assert map_op.get_context("map-item-1").get_step("label_b").result == '"1:b"'


@pytest.mark.example
@pytest.mark.durable_execution(handler=map_validation.handler, lambda_function_name="map validation")
def test_map_config_validation(durable_runner):
    """Invalid MapConfig/CompletionConfig values raise ValidationError; nothing is checkpointed."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "max_concurrency": "max_concurrency must be at least 1, got: 0",
        "percentage": "tolerated_failure_percentage must be between 0 and 100, got: 150",
        "min_successful": "min_successful cannot be greater than total items: 3 > 2",
    }
    assert result.operations == []
