"""Local test runner, mirroring the AWS testing library's `runner` module.

`DurableFunctionTestRunner` runs a handler on a private engine with a
virtual clock: while the caller is blocked in `run()` or `wait_for_result()`
and nothing is running, time jumps to the next due timer, so a handler that
waits an hour finishes in milliseconds.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

import attrs

from durable.clock import VirtualClock
from durable.core.records import (
    ErrorObject,
    InvocationStatus,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.engine import Engine
from durable.execution import DurableHandler
from durable.stores.base import ExecutionRecord

__all__ = [
    "CallbackOperation",
    "ContextOperation",
    "DurableFunctionTestResult",
    "DurableFunctionTestRunner",
    "InvocationRecord",
    "InvokeOperation",
    "LogEntry",
    "Operation",
    "StepOperation",
    "WaitOperation",
]


V = TypeVar("V", bound="Operation")


@attrs.frozen(slots=True)
class LogEntry:
    level: str
    message: str
    execution_arn: str
    operation_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.level}] {self.message}"


@attrs.frozen(slots=True)
class InvocationRecord:
    start: Any
    end: Any
    outcome: str
    error: dict[str, Any] | None = None


@attrs.define
class Operation:
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_id: str | None
    name: str | None
    sub_type: OperationSubType | None
    start_timestamp: float | None
    end_timestamp: float | None
    child_operations: list[Operation] = attrs.field(factory=list)

    def _find(self, name: str, kind: type[Operation]) -> Any:
        return _find_by_name(self.child_operations, name, kind)


@attrs.define
class StepOperation(Operation):
    attempt: int = 0
    next_attempt_timestamp: float | None = None
    result: Any = None
    error: ErrorObject | None = None


@attrs.define
class WaitOperation(Operation):
    scheduled_end_timestamp: float | None = None


@attrs.define
class ContextOperation(Operation):
    result: Any = None
    error: ErrorObject | None = None

    def get_step(self, name: str) -> StepOperation:
        return self._find(name, StepOperation)

    def get_wait(self, name: str) -> WaitOperation:
        return self._find(name, WaitOperation)

    def get_context(self, name: str) -> ContextOperation:
        return self._find(name, ContextOperation)

    def get_callback(self, name: str) -> CallbackOperation:
        return self._find(name, CallbackOperation)

    def get_invoke(self, name: str) -> InvokeOperation:
        return self._find(name, InvokeOperation)


@attrs.define
class CallbackOperation(Operation):
    callback_id: str | None = None
    result: Any = None
    error: ErrorObject | None = None


@attrs.define
class InvokeOperation(Operation):
    result: Any = None
    error: ErrorObject | None = None


_VIEW_BY_TYPE: dict[OperationType, type[Operation]] = {
    OperationType.STEP: StepOperation,
    OperationType.WAIT: WaitOperation,
    OperationType.CONTEXT: ContextOperation,
    OperationType.CALLBACK: CallbackOperation,
    OperationType.CHAINED_INVOKE: InvokeOperation,
}


def _view(record: OperationRecord) -> Operation:
    kind = _VIEW_BY_TYPE.get(record.operation_type, Operation)
    fields: dict[str, Any] = {
        "operation_id": record.operation_id,
        "operation_type": record.operation_type,
        "status": record.status,
        "parent_id": record.parent_id,
        "name": record.name,
        "sub_type": record.sub_type,
        "start_timestamp": record.start_timestamp,
        "end_timestamp": record.end_timestamp,
    }
    if kind is StepOperation:
        fields.update(attempt=record.attempt, next_attempt_timestamp=record.next_attempt_timestamp)
    if kind is WaitOperation:
        fields["scheduled_end_timestamp"] = record.scheduled_end_timestamp
    if kind is CallbackOperation:
        fields["callback_id"] = record.callback_id
    if kind in (StepOperation, ContextOperation, CallbackOperation, InvokeOperation):
        fields.update(result=record.result, error=record.error)
    return kind(**fields)


def _find_by_name(operations: list[Operation], name: str, kind: type[V]) -> V:
    for op in operations:
        if op.name == name and isinstance(op, kind):
            return op
    raise KeyError(f"no {kind.__name__} named {name!r}")


def _flatten(operations: list[Operation]) -> list[Operation]:
    out: list[Operation] = []
    for op in operations:
        out.append(op)
        out.extend(_flatten(op.child_operations))
    return out


@attrs.define
class DurableFunctionTestResult:
    status: InvocationStatus
    result: str | None
    error: ErrorObject | None
    operations: list[Operation]
    history: list[dict[str, Any]]
    invocations: list[InvocationRecord]
    logs: list[LogEntry]
    execution_arn: str = ""

    def get_step(self, name: str) -> StepOperation:
        return _find_by_name(self.get_all_operations(), name, StepOperation)

    def get_wait(self, name: str) -> WaitOperation:
        return _find_by_name(self.get_all_operations(), name, WaitOperation)

    def get_context(self, name: str) -> ContextOperation:
        return _find_by_name(self.get_all_operations(), name, ContextOperation)

    def get_callback(self, name: str) -> CallbackOperation:
        return _find_by_name(self.get_all_operations(), name, CallbackOperation)

    def get_invoke(self, name: str) -> InvokeOperation:
        return _find_by_name(self.get_all_operations(), name, InvokeOperation)

    def get_operation_by_name(self, name: str) -> Operation:
        return _find_by_name(self.get_all_operations(), name, Operation)

    def get_all_operations(self) -> list[Operation]:
        return _flatten(self.operations)


def normalize_input(value: Any) -> Any:
    """As AWS does: a string that parses as JSON is that JSON; any other string is itself."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_STATUS = {
    "SUCCEEDED": InvocationStatus.SUCCEEDED,
    "FAILED": InvocationStatus.FAILED,
    "TIMED_OUT": InvocationStatus.FAILED,
    "STOPPED": InvocationStatus.FAILED,
    "RUNNING": InvocationStatus.PENDING,
}


class _LogCapture(logging.Handler):
    """Keeps the records `context.logger` writes for this runner's executions."""

    def __init__(self, arns: set[str], into: list[LogEntry]) -> None:
        super().__init__(logging.DEBUG)
        self.arns = arns
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        arn = getattr(record, "executionArn", None)
        if arn in self.arns:
            self.into.append(LogEntry(record.levelname, record.getMessage(), arn, getattr(record, "operationId", None)))


class DurableFunctionTestRunner:
    def __init__(
        self,
        handler: DurableHandler[Any],
        execution_timeout: float = 300,
        invocation_timeout: float = 900,
        skip_time: bool = True,
        store: str | None = None,
        functions: dict[str, Any] | None = None,
        workers: int = 4,
        isolation: str = "thread",
    ) -> None:
        self.handler = handler
        self.isolation = isolation
        self.execution_timeout = execution_timeout
        self.invocation_timeout = invocation_timeout
        self.skip_time = skip_time
        self.store_url = store
        self.functions = functions or {}
        self.workers = workers
        self.clock = VirtualClock()
        self.engine: Engine | None = None
        self._tempdir: str | None = None
        self._logs: list[LogEntry] = []
        self._capture: _LogCapture | None = None
        self._root_level = logging.NOTSET
        self._arns: set[str] = set()

    def __enter__(self) -> DurableFunctionTestRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self.engine is not None:
            return
        url = self.store_url
        if url is None:
            self._tempdir = tempfile.mkdtemp(prefix="durable-test-")
            url = f"sqlite:///{Path(self._tempdir) / 'durable.db'}"
        self.engine = Engine(store=url, clock=self.clock, workers=self.workers, isolation=self.isolation)
        self.engine.register(self.handler.name, self.handler, self.invocation_timeout)
        for name, function in self.functions.items():
            self.engine.register(name, function, self.invocation_timeout)
        self._capture = _LogCapture(self._arns, self._logs)
        root = logging.getLogger()
        root.addHandler(self._capture)
        self._root_level = root.level
        if root.level == logging.NOTSET or root.level > logging.DEBUG:
            root.setLevel(logging.DEBUG)

    def close(self) -> None:
        if self._capture is not None:
            logging.getLogger().removeHandler(self._capture)
            logging.getLogger().setLevel(self._root_level)
            self._capture = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    @property
    def _engine(self) -> Engine:
        if self.engine is None:
            self.start()
        assert self.engine is not None
        return self.engine

    def run(
        self, input: Any = None, execution_timeout: float | None = None, timeout: float | None = None
    ) -> DurableFunctionTestResult:
        """Start an execution and block until it ends (`timeout` is the older spelling of execution_timeout)."""
        limit = execution_timeout if execution_timeout is not None else timeout
        arn = self.run_async(input, limit)
        return self.wait_for_result(arn, timeout=max(60.0, float(limit or 0)))

    def run_async(self, input: Any = None, execution_timeout: float | None = None) -> str:
        arn = self._engine.start(
            self.handler.name, normalize_input(input),
            execution_timeout=execution_timeout if execution_timeout is not None else self.execution_timeout,
        )
        self._arns.add(arn)
        return arn

    def wait_for_result(self, execution_arn: str, timeout: float = 60) -> DurableFunctionTestResult:
        if self.skip_time:
            self._engine.skip_time(True)
        try:
            record = self._engine.wait(execution_arn, timeout=timeout)
        finally:
            if self.skip_time:
                self._engine.skip_time(False)
        return self._result(record)

    def wait_for_callback(self, execution_arn: str, name: str | None = None, timeout: float = 60) -> str:
        """The id of a started, still open callback of the execution (named `name`, if given).

        TimeoutError if none is open by then.  While waiting, time is not skipped.
        """
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            for op in self._engine.operations(execution_arn):
                if (
                    op.operation_type is OperationType.CALLBACK
                    and op.status is OperationStatus.STARTED
                    and op.callback_id is not None
                    and (name is None or op.name == name)
                ):
                    return op.callback_id
            if self._engine.status(execution_arn).status.is_terminal:
                raise TimeoutError(f"execution {execution_arn} ended without an open callback named {name!r}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no open callback named {name!r} in {execution_arn} within {timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def send_callback_success(self, callback_id: str, result: bytes | str | None = None) -> None:
        self._engine.send_callback_success(callback_id, result)

    def send_callback_failure(self, callback_id: str, error: ErrorObject | dict[str, Any] | None = None) -> None:
        self._engine.send_callback_failure(callback_id, error)

    def send_callback_heartbeat(self, callback_id: str) -> None:
        self._engine.send_callback_heartbeat(callback_id)

    def get_history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self._engine.history(execution_arn)

    def get_result(self, execution_arn: str) -> DurableFunctionTestResult:
        return self._result(self._engine.status(execution_arn))

    def _result(self, record: ExecutionRecord) -> DurableFunctionTestResult:
        engine = self._engine
        views = {op.operation_id: _view(op) for op in engine.operations(record.execution_id)}
        top: list[Operation] = []
        for view in views.values():
            parent = views.get(view.parent_id) if view.parent_id else None
            (parent.child_operations if parent is not None else top).append(view)
        history = engine.history(record.execution_id)
        return DurableFunctionTestResult(
            status=_STATUS[record.status.value],
            result=record.result,
            error=record.error,
            operations=top,
            history=history,
            invocations=_invocations(history),
            logs=[entry for entry in list(self._logs) if entry.execution_arn == record.execution_id],
            execution_arn=record.execution_id,
        )


def _invocations(history: list[dict[str, Any]]) -> list[InvocationRecord]:
    out = []
    for event in history:
        if event["EventType"] != "InvocationCompleted":
            continue
        details = event.get("InvocationCompletedDetails") or {}
        error = (details.get("Error") or {}).get("Payload")
        out.append(
            InvocationRecord(
                details.get("StartTimestamp"), details.get("EndTimestamp"), "FAILED" if error else "COMPLETED", error
            )
        )
    return out
