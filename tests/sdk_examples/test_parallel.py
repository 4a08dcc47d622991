"""Tests for context.parallel: branch naming, completion rules, nesting, errors."""

import json

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import (
    ErrorObject,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from tests.sdk_examples.functions import (
    parallel,
    parallel_config,
    parallel_error,
    parallel_named_branches,
    parallel_nesting,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel.handler, lambda_function_name="parallel")
def test_parallel(durable_runner):
    """Branches are parallel-branch-{index}; a wait in one branch does not reorder results."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == [7, 19.99, ["great", "ok"]]
    par = result.get_context("product_details")
    assert par.sub_type is OperationSubType.PARALLEL
    assert [c.name for c in par.child_operations] == [
        "parallel-branch-0",
        "parallel-branch-1",
        "parallel-branch-2",
    ]
    assert {c.sub_type for c in par.child_operations} == {OperationSubType.PARALLEL_BRANCH}
    branch_1 = par.get_context("parallel-branch-1")
    assert [c.name for c in branch_1.child_operations] == ["rate_limit", "price"]
    assert branch_1.get_step("price").result == "19.99"
    assert (par.end_timestamp - par.start_timestamp).total_seconds() >= 30


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel_named_branches.handler, lambda_function_name="parallel named branches")
def test_parallel_named_branches(durable_runner):
    """@durable_parallel_branch(name=...) and ParallelBranch(name=...) name branches; @durable_parallel_branch() does not."""
    with durable_runner:
        result = durable_runner.run(input={"user_id": "u7"}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "user": {"id": "u7", "name": "Jane"},
        "orders": ["u7-o1", "u7-o2"],
        "count": 3,
        "unnamed": "anonymous",
    }
    par = result.get_context("load-data")
    assert [c.name for c in par.child_operations] == [
        "fetch-user",
        "fetch-orders",
        "count",
        "parallel-branch-3",
    ]
    assert par.get_context("fetch-orders").get_step("load_orders").result == '["u7-o1","u7-o2"]'


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel_config.handler, lambda_function_name="parallel config")
@pytest.mark.parametrize(
    ("mode", "results", "failures", "reason", "total"),
    [
        ("all_successful", [], 1, "FAILURE_TOLERANCE_EXCEEDED", 1),
        ("all_completed", ["b", "d", "e"], 2, "ALL_COMPLETED", 5),
        ("first_successful", ["b"], 1, "MIN_SUCCESSFUL_REACHED", 2),
        ("min_two", ["b", "d"], 2, "MIN_SUCCESSFUL_REACHED", 4),
        ("tolerate_one", ["b"], 2, "FAILURE_TOLERANCE_EXCEEDED", 3),
    ],
)
def test_parallel_completion_config(durable_runner, mode, results, failures, reason, total):
    """Branches run one at a time; the completion rule decides when the parallel stops."""
    with durable_runner:
        result = durable_runner.run(
            input={"mode": mode, "branches": ["fail-a", "b", "fail-c", "d", "e"]}, timeout=30
        )

    assert result.status is InvocationStatus.SUCCEEDED
    summary = json.loads(result.result)
    assert summary["results"] == results
    assert summary["failure_count"] == failures
    assert summary["success_count"] == len(results)
    assert summary["completion_reason"] == reason
    assert summary["total_count"] == total
    assert summary["errors"] == ["branch fail-a failed", "branch fail-c failed"][:failures]
    par = result.get_context("branches")
    assert len(par.child_operations) == total
    assert par.get_context("parallel-branch-0").status is OperationStatus.FAILED


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel_nesting.handler, lambda_function_name="parallel nesting")
def test_parallel_flat_nesting(durable_runner):
    """FLAT branches leave only their steps under the parallel operation."""
    with durable_runner:
        result = durable_runner.run(input={"nesting": "FLAT"}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == ["left", "right"]
    par = result.get_context("two_sides")
    assert [c.name for c in par.child_operations] == ["left_step", "right_step"]
    assert {c.operation_type for c in par.child_operations} == {OperationType.STEP}
    assert all(c.parent_id == par.operation_id for c in par.child_operations)


@pytest.mark.example
@pytest.mark.durable_execution(handler=parallel_error.handler, lambda_function_name="parallel error")
def test_parallel_branch_failure(durable_runner):
    """The failed branch's step used the default retries; throw_if_error raises ChildContextError."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=60)

    assert result.status is InvocationStatus.FAILED
    assert result.error == ErrorObject(
        message="division went wrong", type="ChildContextError", data=None, stack_trace=None
    )
    par = result.get_context("risky_parallel")
    # The parallel operation itself completed: the failure is inside its BatchResult.
    assert par.status is OperationStatus.SUCCEEDED
    bad = par.get_context("parallel-branch-1")
    assert bad.status is OperationStatus.FAILED
    assert bad.error.type == "StepError"
    explode = bad.get_step("explode")
    assert explode.attempt == 6
    assert explode.error.type == "ArithmeticError"
    batch = deserialize_operation_payload(par.result)
    assert batch.get_results() == ["fine"]
    assert batch.failure_count == 1
