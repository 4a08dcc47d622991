"""In-memory store for unit tests: the same contract as SQLite, nothing on disk.

Writes come from the CheckpointWriter thread only.  Every read returns fresh
lists or frozen records, built by single C-level copies, so readers on other
threads never iterate a dict that is being changed.
"""

from __future__ import annotations

from typing import Any

import attrs

from durable.core.history import HistoryEvent
from durable.core.records import OperationRecord
from durable.stores.base import (
    UNCHANGED,
    CommitResult,
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStatus,
    FenceState,
    Store,
    WriteSet,
    admit,
)


class MemoryStore(Store):
    def __init__(self) -> None:
        self.url = "memory://"
        self._executions: dict[str, ExecutionRecord] = {}
        self._names: dict[str, str] = {}
        self._operations: dict[str, dict[str, OperationRecord]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._alarms: dict[str, float] = {}
        self._meta: dict[str, str] = {}

    def put_meta(self, key: str, value: str) -> None:
        self._meta[key] = value

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def create_execution(
        self,
        execution_id: str,
        function_name: str,
        input: str | None,
        name: str | None,
        deadline: float | None,
        now: float,
        start_event: HistoryEvent,
        parent: tuple[str, str] | None = None,
        tenant_id: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        if name is not None and name in self._names:
            return self._executions[self._names[name]], False
        if execution_id in self._executions:
            return self._executions[execution_id], False
        parent_execution_id, parent_operation_id = parent or (None, None)
        record = ExecutionRecord(
            execution_id=execution_id, function_name=function_name, status=ExecutionStatus.RUNNING,
            input=input, created=now, name=name, deadline=deadline, parent_execution_id=parent_execution_id,
            parent_operation_id=parent_operation_id, tenant_id=tenant_id,
        )
        self._operations[execution_id] = {}
        self._events[execution_id] = [start_event.to_dict(1)]
        self._executions[execution_id] = record
        if name is not None:
            self._names[name] = execution_id
        return record, True

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        record = self._executions.get(execution_id)
        if record is None:
            return None
        return attrs.evolve(record, alarm=self._alarms.get(execution_id))

    def list_executions(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]:
        records = [r for r in list(self._executions.values()) if status is None or r.status is status]
        records.sort(key=lambda r: r.created, reverse=True)
        return records[:limit]

    def page_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        records = [r for r in list(self._executions.values()) if query.matches(r)]
        records.sort(key=lambda r: (r.created, r.execution_id), reverse=True)
        return records[: query.limit]

    def load_operations(self, execution_id: str) -> list[OperationRecord]:
        return list(self._operations.get(execution_id, {}).values())

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return list(self._events.get(execution_id, []))

    def stored_alarms(self) -> list[tuple[str, float]]:
        return list(self._alarms.items())

    def open_invocations(self) -> list[str]:
        return [
            r.execution_id for r in list(self._executions.values())
            if r.invocation_open and r.status is ExecutionStatus.RUNNING
        ]

    def begin_invocation(self, execution_id: str, now: float) -> CommitResult:
        record = self._executions.get(execution_id)
        if record is None or record.status is not ExecutionStatus.RUNNING:
            return CommitResult(False, "execution is not running" if record else "unknown execution")
        token = record.token + 1
        self._executions[execution_id] = attrs.evolve(
            record, token=token, invocations=record.invocations + 1, invocation_open=True
        )
        return CommitResult(True, token=token)

    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        return [self._apply(ws) for ws in batch]

    def _apply(self, original: WriteSet) -> CommitResult:
        record = self._executions.get(original.execution_id)
        if record is None:
            return CommitResult(False, "unknown execution")
        ops = self._operations[original.execution_id]
        events = self._events[original.execution_id]
        state = FenceState(record.status.value, record.token, len(events) + 1)
        ws, result = admit(state, original, ops.get)
        if not result.ok:
            return result
        for op in ws.operations:
            ops[op.operation_id] = op
        for event in ws.events:
            events.append(event.to_dict(len(events) + 1))
        change = ws.execution
        if change is not None:
            self._executions[ws.execution_id] = attrs.evolve(
                record,
                status=ExecutionStatus(state.status),
                token=state.token,
                result=change.result if change.result is not None else record.result,
                error=change.error or record.error,
                ended=change.ended if change.ended is not None else record.ended,
                invocation_open=(
                    change.invocation_open if change.invocation_open is not None else record.invocation_open
                ),
            )
        if ws.alarm is not UNCHANGED:
            if ws.alarm is None:
                self._alarms.pop(ws.execution_id, None)
            else:
                self._alarms[ws.execution_id] = ws.alarm
        return result
