"""One contract for every store: memory, SQLite and PostgreSQL answer the same writes the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from durable.core.history import HistoryEvent
from durable.core.records import ErrorObject, OperationRecord, OperationStatus, OperationType
from durable.core.writes import ExecutionChange, close_invocation, end_execution
from durable.stores import open_store
from durable.stores.base import ExecutionQuery, ExecutionStatus, Store, WriteSet

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    opened = open_store(url)
    if opened.shared:
        opened.join(lease_seconds=30.0)  # type: ignore[attr-defined]
    yield opened
    opened.close()


def _create(store: Store, execution_id: str = "e1", name: str | None = None, now: float = 1.0) -> None:
    store.create_execution(execution_id, "fn", '"in"', name, None, now, HistoryEvent("ExecutionStarted", now))


def _step(operation_id: str, status: OperationStatus, result: str | None = None) -> OperationRecord:
    return OperationRecord(operation_id, OperationType.STEP, status, name="s", result=result, start_timestamp=2.0)


def _callback(operation_id: str, status: OperationStatus) -> OperationRecord:
    return OperationRecord(operation_id, OperationType.CALLBACK, status, callback_id="cb")


def test_creating_is_idempotent_by_id_and_by_name(store: Store) -> None:
    first, created = store.create_execution("e1", "fn", "1", "order-7", None, 1.0, HistoryEvent("ExecutionStarted", 1))
    assert created and first.status is ExecutionStatus.RUNNING and first.input == "1"
    again, created_again = store.create_execution("e2", "fn", "2", "order-7", None, 2.0,
                                                  HistoryEvent("ExecutionStarted", 2))
    assert not created_again and again.execution_id == "e1"
    same, created_same = store.create_execution("e1", "fn", "3", None, None, 3.0, HistoryEvent("ExecutionStarted", 3))
    assert not created_same and same.input == "1"
    assert store.get_execution("e2") is None
    assert [e["EventType"] for e in store.history("e1")] == ["ExecutionStarted"]


def test_a_write_under_an_old_token_is_refused(store: Store) -> None:
    _create(store)
    first = store.begin_invocation("e1", 5.0)
    assert first.ok and first.token == 1
    (ok,) = store.commit([WriteSet("e1", 1, (_step("1", OperationStatus.STARTED),))])
    assert ok.ok
    second = store.begin_invocation("e1", 6.0)
    assert second.ok and second.token == 2
    late, current = store.commit([
        WriteSet("e1", 1, (_step("1", OperationStatus.SUCCEEDED, '"late"'),)),
        WriteSet("e1", 2, (_step("2", OperationStatus.STARTED),)),
    ])
    assert not late.ok and "fenced" in late.reason and current.ok
    assert store.get_operation("e1", "1") == _step("1", OperationStatus.STARTED)
    assert store.get_execution("e1").invocations == 2  # type: ignore[union-attr]


def test_operations_and_events_keep_their_order(store: Store) -> None:
    _create(store)
    token = store.begin_invocation("e1", 5.0).token
    ids = [f"op-{i}" for i in (3, 1, 2)]
    batch = [
        WriteSet("e1", token, (_step(op_id, OperationStatus.SUCCEEDED, f'"{op_id}"'),),
                 (HistoryEvent("StepSucceeded", 3.0 + i, operation_id=op_id),))
        for i, op_id in enumerate(ids)
    ]
    assert all(r.ok for r in store.commit(batch))
    assert [op.operation_id for op in store.load_operations("e1")] == ids
    history = store.history("e1")
    assert [e["EventId"] for e in history] == [1, 2, 3, 4]
    assert [e.get("Id") for e in history[1:]] == ids


def test_a_large_group_lands_whole_and_a_record_written_twice_keeps_its_last_form(store: Store) -> None:
    """Past the rows one statement carries (a 10,000-branch wave commits thousands at once)."""
    _create(store)
    token = store.begin_invocation("e1", 5.0).token
    count = 613
    started = WriteSet("e1", token, tuple(_step(f"1-{i}", OperationStatus.STARTED) for i in range(count)),
                       tuple(HistoryEvent("StepStarted", 3.0, operation_id=f"1-{i}") for i in range(count)))
    done = WriteSet("e1", token, tuple(_step(f"1-{i}", OperationStatus.SUCCEEDED, str(i)) for i in range(0, count, 2)),
                    tuple(HistoryEvent("StepSucceeded", 4.0, operation_id=f"1-{i}") for i in range(0, count, 2)))
    assert all(r.ok for r in store.commit([started, done]))
    operations = {op.operation_id: op for op in store.load_operations("e1")}
    assert len(operations) == count
    assert all(
        (operations[f"1-{i}"].status, operations[f"1-{i}"].result)
        == ((OperationStatus.SUCCEEDED, str(i)) if i % 2 == 0 else (OperationStatus.STARTED, None))
        for i in range(count)
    )
    history = store.history("e1")
    assert [e["EventId"] for e in history] == list(range(1, 2 + count + (count + 1) // 2))
    assert [e.get("Id") for e in history[1:count + 1]] == [f"1-{i}" for i in range(count)]


def test_an_outside_completion_applies_at_most_once(store: Store) -> None:
    _create(store)
    token = store.begin_invocation("e1", 5.0).token
    store.commit([WriteSet("e1", token, (_callback("cb1", OperationStatus.STARTED),))])
    done = _callback("cb1", OperationStatus.SUCCEEDED)
    first, second = store.commit([WriteSet("e1", None, (done,), expect_open=("cb1",)),
                                  WriteSet("e1", None, (done,), expect_open=("cb1",))])
    assert first.ok and not second.ok and second.conflict
    (timeout,) = store.commit([WriteSet("e1", token, (_callback("cb1", OperationStatus.TIMED_OUT),))])
    assert timeout.ok and timeout.dropped == ("cb1",)
    assert store.get_operation("e1", "cb1").status is OperationStatus.SUCCEEDED  # type: ignore[union-attr]


def test_alarms_are_kept_with_the_write_and_cleared_at_the_end(store: Store) -> None:
    _create(store)
    token = store.begin_invocation("e1", 5.0).token
    store.commit([WriteSet("e1", token, alarm=50.0, execution=ExecutionChange(invocation_open=False))])
    assert store.stored_alarms() == [("e1", 50.0)]
    assert store.get_execution("e1").alarm == 50.0  # type: ignore[union-attr]
    (ended,) = store.commit([end_execution("e1", ExecutionStatus.STOPPED, "ExecutionStopped", 9.0, None)])
    assert ended.ok and store.stored_alarms() == []
    record = store.get_execution("e1")
    assert record is not None and record.status is ExecutionStatus.STOPPED and record.ended == 9.0
    (refused,) = store.commit([WriteSet("e1", None, (_step("9", OperationStatus.STARTED),))])
    assert not refused.ok and "already STOPPED" in refused.reason
    assert not store.begin_invocation("e1", 10.0).ok


def test_open_invocations_and_their_closing(store: Store) -> None:
    _create(store, "e1")
    _create(store, "e2", now=2.0)
    token = store.begin_invocation("e1", 5.0).token
    assert store.open_invocations() == ["e1"]
    error = ErrorObject("the process running the invocation exited", "Runtime.ExitError")
    (closed,) = store.commit([close_invocation("e1", None, 6.0, error)])
    assert closed.ok and closed.token == (token or 0) + 1
    assert store.open_invocations() == []
    assert store.history("e1")[-1]["EventType"] == "InvocationCompleted"


def test_listing_is_newest_first_and_filters_by_status(store: Store) -> None:
    for i in range(5):
        _create(store, f"e{i}", now=float(i))
    store.commit([end_execution("e3", ExecutionStatus.STOPPED, "ExecutionStopped", 9.0, None)])
    assert [r.execution_id for r in store.list_executions(limit=3)] == ["e4", "e3", "e2"]
    assert [r.execution_id for r in store.list_executions(ExecutionStatus.STOPPED)] == ["e3"]
    assert len(store.list_executions(ExecutionStatus.RUNNING, limit=100)) == 4


def test_meta_values_round_trip(store: Store) -> None:
    assert store.get_meta("k") is None
    store.put_meta("k", "one")
    store.put_meta("k", "two")
    assert store.get_meta("k") == "two"


def test_pages_of_executions_are_newest_first_and_filtered_the_same(store: Store) -> None:
    for i in range(7):
        store.create_execution(f"e{i}", "fn" if i % 2 else "other", "1", f"job-{i}" if i != 3 else "x_%", None,
                               10.0 + i, HistoryEvent("ExecutionStarted", 10.0 + i))
    pages: list[list[str]] = []
    query = ExecutionQuery(limit=3)
    while page := store.page_executions(query):
        pages.append([r.execution_id for r in page])
        query = attrs.evolve(query, before=page[-1].cursor)
    assert pages == [["e6", "e5", "e4"], ["e3", "e2", "e1"], ["e0"]]
    assert [r.execution_id for r in store.page_executions(ExecutionQuery(function_name="fn"))] == ["e5", "e3", "e1"]
    assert [r.execution_id for r in store.page_executions(ExecutionQuery(name_prefix="job-"))] == [
        "e6", "e5", "e4", "e2", "e1", "e0"]
    assert [r.execution_id for r in store.page_executions(ExecutionQuery(name_prefix="x_%"))] == ["e3"]
    assert store.page_executions(ExecutionQuery(name_prefix="x_%%")) == [], "% and _ are literal in a prefix"
    assert [r.execution_id for r in store.page_executions(ExecutionQuery(status=ExecutionStatus.RUNNING, limit=2))] == [
        "e6", "e5"]
