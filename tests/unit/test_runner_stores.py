"""The testing library's store objects: where the runner keeps its executions, and reading them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import Duration
from durable.core.records import OperationStatus, OperationType
from durable.execution import InvocationStatus
from durable.testing import DurableFunctionTestRunner
from durable.testing.exceptions import ResourceNotFoundException
from durable.testing.execution import ExecutionStatus
from durable.testing.stores import FileSystemExecutionStore, InMemoryExecutionStore, SQLiteExecutionStore

pytestmark = pytest.mark.timeout(60)


@durable_execution
def greet(event: Any, context: DurableContext) -> str:
    name = context.step(lambda _: event["name"], name="read")
    context.wait(Duration.from_seconds(5), name="pause")
    if name == "nobody":
        raise ValueError("nobody to greet")
    return f"hello {name}"


def _stores(tmp_path: Path) -> dict[str, Any]:
    return {
        "memory": InMemoryExecutionStore(),
        "sqlite": SQLiteExecutionStore.create_and_initialize(tmp_path / "db" / "runs.db"),
        "filesystem": FileSystemExecutionStore.create(tmp_path / "runs"),
    }


@pytest.mark.parametrize("kind", ["memory", "sqlite", "filesystem"])
def test_what_the_runner_wrote_reads_back_through_the_store_object(tmp_path: Path, kind: str) -> None:
    store = _stores(tmp_path)[kind]
    assert store.list_all() == [], "nothing written yet"
    with DurableFunctionTestRunner(greet, store=store) as runner:
        done = runner.run(input={"name": "ada"})
        failed = runner.run(input={"name": "nobody"})
    executions = store.list_all()
    assert [e.durable_execution_arn for e in executions] == [done.execution_arn, failed.execution_arn]
    ok = store.load(done.execution_arn)
    assert ok.is_complete and ok.close_status is ExecutionStatus.SUCCEEDED
    assert ok.result is not None and ok.result.status is InvocationStatus.SUCCEEDED
    assert ok.result.result == '"hello ada"' and ok.input == '{"name":"ada"}'
    step = next(op for op in ok.operations if op.name == "read")
    assert step.operation_type is OperationType.STEP and step.status is OperationStatus.SUCCEEDED
    assert step.step_details is not None and step.step_details.result == '"ada"' and step.step_details.attempt == 1
    wait = next(op for op in ok.operations if op.name == "pause")
    assert wait.wait_details is not None and wait.wait_details.scheduled_end_timestamp is not None
    assert step.start_timestamp is not None and step.start_timestamp.tzinfo is not None
    bad = store.load(failed.execution_arn)
    assert bad.close_status is ExecutionStatus.FAILED and bad.result is not None
    assert bad.result.status is InvocationStatus.FAILED and bad.result.error is not None
    started = ok.get_operation_execution_started()
    assert ok.operations[0] is started and started.operation_type is OperationType.EXECUTION
    assert started.execution_details is not None and started.execution_details.input_payload == '{"name":"ada"}'
    assert started.status is OperationStatus.SUCCEEDED and started.end_timestamp is not None
    assert bad.get_operation_execution_started().status is OperationStatus.FAILED
    assert [op.name for op in ok.get_assertable_operations()] == ["read", "pause"]
    assert bad.result.error.message == "nobody to greet"
    with pytest.raises(ResourceNotFoundException, match="no-such-arn"):
        store.load("no-such-arn")
