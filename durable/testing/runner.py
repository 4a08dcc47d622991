"""The local test runner, mirroring the AWS testing library's `runner` module.

`DurableFunctionTestRunner` runs a handler on a private engine (SQLite in a
temporary folder) with a virtual clock, so a handler that waits an hour
finishes in milliseconds.  Results and operation views have the testing
library's shape: frozen dataclasses, UTC datetimes, payloads as the JSON
text that was checkpointed, lookups by name among the top-level operations
(or a context's direct children).  Beyond it: `functions=` registers more
functions for `context.invoke`, `isolation="process"` runs handlers in
worker processes, and the result carries the history, the invocations and the
records `context.logger` wrote (`logs`).

The cloud runner and the web runner are the testing library's names for
driving AWS Lambda; they exist so that a suite that imports them still loads,
and refuse to run.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, Protocol, TypeVar, cast

from loguru import logger

from durable.clock import VirtualClock
from durable.context import DurableContext
from durable.core.records import (
    ErrorObject,
    InvocationStatus,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.engine import Engine
from durable.exceptions import CallbackConflictError, UnknownCallbackError, ValidationError
from durable.execution import as_durable_handler, durable_execution
from durable.stores import open_store
from durable.stores.base import ExecutionRecord, ExecutionStatus
from durable.testing.exceptions import (
    DurableFunctionsTestError,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from durable.testing.execution import utc_datetime
from durable.testing.model import create_test_lambda_context
from durable.testing.stores.base import StoreType
from durable.testing.stores.memory import InMemoryExecutionStore

P = ParamSpec("P")
DEFAULT_MAX_INVOCATION_PAGE_BYTES = 5 * 1024 * 1024
OperationPayload = str

__all__ = [
    "OPERATION_FACTORIES",
    "CallbackOperation",
    "ContextOperation",
    "DurableChildContextTestRunner",
    "DurableFunctionCloudTestRunner",
    "DurableFunctionTestResult",
    "DurableFunctionTestRunner",
    "ExecutionOperation",
    "InvocationRecord",
    "InvokeOperation",
    "LogEntry",
    "Operation",
    "OperationFactory",
    "StepOperation",
    "WaitOperation",
    "WebRunner",
    "WebRunnerConfig",
    "create_operation",
]


@dataclasses.dataclass(frozen=True)
class Operation:
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_id: str | None = dataclasses.field(default=None, kw_only=True)
    name: str | None = dataclasses.field(default=None, kw_only=True)
    sub_type: OperationSubType | None = dataclasses.field(default=None, kw_only=True)
    start_timestamp: datetime.datetime | None = dataclasses.field(default=None, kw_only=True)
    end_timestamp: datetime.datetime | None = dataclasses.field(default=None, kw_only=True)


V = TypeVar("V", bound=Operation)


class OperationFactory(Protocol):
    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> Operation: ...


def _common(record: OperationRecord) -> dict[str, Any]:
    return {
        "operation_id": record.operation_id,
        "operation_type": record.operation_type,
        "status": record.status,
        "parent_id": record.parent_id,
        "name": record.name,
        "sub_type": record.sub_type,
        "start_timestamp": utc_datetime(record.start_timestamp),
        "end_timestamp": utc_datetime(record.end_timestamp),
    }


class _OperationsByParent(list[OperationRecord]):
    """All of an execution's records, with each parent's children found once: a map's view is O(N), not O(N²)."""

    def __init__(self, records: list[OperationRecord]) -> None:
        super().__init__(records)
        self.by_parent: dict[str | None, list[OperationRecord]] = {}
        for op in records:
            self.by_parent.setdefault(op.parent_id, []).append(op)


def _children(record: OperationRecord, all_operations: list[Any] | None) -> list[Operation]:
    if not isinstance(all_operations, _OperationsByParent):
        all_operations = _OperationsByParent([as_record(op) for op in all_operations or ()])
    found = all_operations.by_parent.get(record.operation_id, [])
    return [create_operation(op, all_operations) for op in found]


def _expect(operation: Any, kind: OperationType, label: str) -> OperationRecord:
    record = as_record(operation)
    if record.operation_type is not kind:
        raise InvalidParameterValueException(f"Expected {label} operation, got {record.operation_type}")
    return record


def as_record(operation: Any) -> OperationRecord:
    """A record of this runtime from what the testing library's factories take: the service's
    `durable.lambda_service.Operation` (details per kind, datetimes), or a record already."""
    if isinstance(operation, OperationRecord):
        return operation
    step, context, wait = operation.step_details, operation.context_details, operation.wait_details
    callback, invoke = operation.callback_details, operation.chained_invoke_details
    execution = operation.execution_details
    outcome = next((d for d in (context, step, callback, invoke) if d is not None), None)
    return OperationRecord(
        operation_id=operation.operation_id,
        operation_type=operation.operation_type,
        status=operation.status,
        parent_id=operation.parent_id,
        name=operation.name,
        sub_type=operation.sub_type,
        start_timestamp=_seconds(operation.start_timestamp),
        end_timestamp=_seconds(operation.end_timestamp),
        result=execution.input_payload if execution is not None else getattr(outcome, "result", None),
        error=getattr(outcome, "error", None),
        attempt=step.attempt if step is not None else 0,
        next_attempt_timestamp=_seconds(step.next_attempt_timestamp) if step is not None else None,
        scheduled_end_timestamp=_seconds(wait.scheduled_end_timestamp) if wait is not None else None,
        replay_children=bool(context.replay_children) if context is not None else False,
        callback_id=callback.callback_id if callback is not None else None,
    )


def _seconds(when: datetime.datetime | None) -> float | None:
    return None if when is None else when.timestamp()


@dataclasses.dataclass(frozen=True)
class ExecutionOperation(Operation):
    input_payload: str | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> ExecutionOperation:
        operation = _expect(operation, OperationType.EXECUTION, "EXECUTION")
        return ExecutionOperation(**_common(operation), input_payload=operation.result)


@dataclasses.dataclass(frozen=True)
class ContextOperation(Operation):
    child_operations: list[Operation]
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> ContextOperation:
        operation = _expect(operation, OperationType.CONTEXT, "CONTEXT")
        return ContextOperation(
            **_common(operation), child_operations=_children(operation, all_operations),
            result=operation.result, error=operation.error,
        )

    def get_operation_by_name(self, name: str) -> Operation:
        for operation in self.child_operations:
            if operation.name == name:
                return operation
        raise DurableFunctionsTestError(f"Child Operation with name '{name}' not found")

    def get_step(self, name: str) -> StepOperation:
        return cast(StepOperation, self.get_operation_by_name(name))

    def get_wait(self, name: str) -> WaitOperation:
        return cast(WaitOperation, self.get_operation_by_name(name))

    def get_context(self, name: str) -> ContextOperation:
        return cast(ContextOperation, self.get_operation_by_name(name))

    def get_callback(self, name: str) -> CallbackOperation:
        return cast(CallbackOperation, self.get_operation_by_name(name))

    def get_invoke(self, name: str) -> InvokeOperation:
        return cast(InvokeOperation, self.get_operation_by_name(name))

    def get_execution(self, name: str) -> ExecutionOperation:
        return cast(ExecutionOperation, self.get_operation_by_name(name))


@dataclasses.dataclass(frozen=True)
class StepOperation(ContextOperation):
    attempt: int = 0
    next_attempt_timestamp: datetime.datetime | None = None
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> StepOperation:
        operation = _expect(operation, OperationType.STEP, "STEP")
        error = operation.error if operation.status is not OperationStatus.SUCCEEDED else None
        finished = operation.attempt - 1 if operation.status is OperationStatus.STARTED else operation.attempt
        return StepOperation(
            **_common(operation), child_operations=_children(operation, all_operations),
            attempt=max(finished, 0), next_attempt_timestamp=utc_datetime(operation.next_attempt_timestamp),
            result=operation.result, error=error,
        )


@dataclasses.dataclass(frozen=True)
class WaitOperation(Operation):
    scheduled_end_timestamp: datetime.datetime | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> WaitOperation:
        operation = _expect(operation, OperationType.WAIT, "WAIT")
        scheduled_end = utc_datetime(operation.scheduled_end_timestamp)
        return WaitOperation(**_common(operation), scheduled_end_timestamp=scheduled_end)


@dataclasses.dataclass(frozen=True)
class CallbackOperation(ContextOperation):
    callback_id: str | None = None
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> CallbackOperation:
        operation = _expect(operation, OperationType.CALLBACK, "CALLBACK")
        return CallbackOperation(
            **_common(operation), child_operations=_children(operation, all_operations),
            callback_id=operation.callback_id, result=operation.result, error=operation.error,
        )


@dataclasses.dataclass(frozen=True)
class InvokeOperation(Operation):
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @staticmethod
    def from_svc_operation(
        operation: OperationRecord, all_operations: list[OperationRecord] | None = None
    ) -> InvokeOperation:
        operation = _expect(operation, OperationType.CHAINED_INVOKE, "INVOKE")
        return InvokeOperation(**_common(operation), result=operation.result, error=operation.error)


OPERATION_FACTORIES: MutableMapping[OperationType, type[OperationFactory]] = {
    OperationType.EXECUTION: ExecutionOperation,
    OperationType.CONTEXT: ContextOperation,
    OperationType.STEP: StepOperation,
    OperationType.WAIT: WaitOperation,
    OperationType.CHAINED_INVOKE: InvokeOperation,
    OperationType.CALLBACK: CallbackOperation,
}


def create_operation(svc_operation: OperationRecord | Any, all_operations: list[Any] | None = None) -> Operation:
    """The test view of one recorded operation (with its children, for contexts, steps and callbacks)."""
    svc_operation = as_record(svc_operation)
    factory = OPERATION_FACTORIES.get(svc_operation.operation_type)
    if factory is None:
        raise DurableFunctionsTestError(f"Unknown operation type: {svc_operation.operation_type}")
    return factory.from_svc_operation(svc_operation, all_operations)


@dataclasses.dataclass(frozen=True)
class LogEntry:
    """One record `context.logger` wrote for an execution (ours)."""

    level: str
    message: str
    execution_arn: str
    operation_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.level}] {self.message}"


@dataclasses.dataclass(frozen=True)
class InvocationRecord:
    """One invocation of an execution, from its history (ours)."""

    start: Any
    end: Any
    outcome: str
    error: dict[str, Any] | None = None


class _ResultExtras(NamedTuple):
    """What the runner keeps on a result beside the library's four fields."""

    logs: list[LogEntry]
    execution_arn: str
    history_source: Callable[[], list[dict[str, Any]]]


_NO_EXTRAS = _ResultExtras([], "", list)


@dataclasses.dataclass(frozen=True)
class DurableFunctionTestResult:
    status: InvocationStatus
    operations: list[Operation]
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    def _with(
        self, logs: list[LogEntry], execution_arn: str, history_source: Callable[[], list[dict[str, Any]]]
    ) -> DurableFunctionTestResult:
        """This result with what this runner adds to the library's four fields, kept out of them so a
        result compares, prints and lists its fields as the library's does.  `history_source` reads the
        history when it is first asked for: a 10,000-branch map's history is 100,000+ events, and most
        tests never look at it (it stays readable after the runner is closed)."""
        object.__setattr__(self, "_extras", _ResultExtras(logs, execution_arn, history_source))
        return self

    @property
    def _runner_extras(self) -> _ResultExtras:
        return cast(_ResultExtras, self.__dict__.get("_extras", _NO_EXTRAS))

    @property
    def logs(self) -> list[LogEntry]:
        """Every record `context.logger` wrote for this execution, at every level (ours)."""
        return self._runner_extras.logs

    @property
    def execution_arn(self) -> str:
        """The execution's id (ours)."""
        return self._runner_extras.execution_arn

    @functools.cached_property
    def history(self) -> list[dict[str, Any]]:
        """The execution's history events (ours)."""
        return self._runner_extras.history_source()

    @functools.cached_property
    def invocations(self) -> list[InvocationRecord]:
        """One record per invocation, read from the history (ours)."""
        return _invocations(self.history)

    def get_operation_by_name(self, name: str) -> Operation:
        for operation in self.operations:
            if operation.name == name:
                return operation
        raise DurableFunctionsTestError(f"Operation with name '{name}' not found")

    def get_step(self, name: str) -> StepOperation:
        return cast(StepOperation, self.get_operation_by_name(name))

    def get_wait(self, name: str) -> WaitOperation:
        return cast(WaitOperation, self.get_operation_by_name(name))

    def get_context(self, name: str) -> ContextOperation:
        return cast(ContextOperation, self.get_operation_by_name(name))

    def get_callback(self, name: str) -> CallbackOperation:
        return cast(CallbackOperation, self.get_operation_by_name(name))

    def get_invoke(self, name: str) -> InvokeOperation:
        return cast(InvokeOperation, self.get_operation_by_name(name))

    def get_execution(self, name: str) -> ExecutionOperation:
        return cast(ExecutionOperation, self.get_operation_by_name(name))

    def get_all_operations(self) -> list[Operation]:
        """Every operation, children included (in the testing library's order: a stack walk)."""
        found: list[Operation] = []
        stack = list(self.operations)
        while stack:
            operation = stack.pop()
            found.append(operation)
            stack.extend(getattr(operation, "child_operations", None) or ())
        return found


def normalize_input(value: Any) -> Any:
    """As the Lambda runtime does: text that parses as JSON is that JSON; any other text is itself."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _LogCapture(logging.Handler):
    """Keeps the records `context.logger` writes for this runner's executions, at every level.

    It hears records below the loggers' levels too (`hears_every_level`, see
    `durable.logger`), so `result.logs` is whole without the runner lowering
    the root logger's level under the user's own handlers (or pytest's caplog).
    """

    hears_every_level = True

    def __init__(self, arns: set[str], into: list[LogEntry]) -> None:
        super().__init__(logging.DEBUG)
        self.arns = arns
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        arn = getattr(record, "executionArn", None)
        if arn in self.arns:
            self.into.append(LogEntry(record.levelname, record.getMessage(), arn, getattr(record, "operationId", None)))


class DurableFunctionTestRunner:
    """Runs one handler locally: `run(input)` starts an execution and returns its result when it ends.

    With `skip_time` (the default), the runner's clock jumps over every timer
    (a wait, a retry delay, a poll interval) as soon as nothing runs, as the
    AWS runner's does; timeouts (the execution's, a callback's) pass in real
    time, and so does the time a test takes to answer a callback.

    `result.logs` holds every record `context.logger` wrote, at every level;
    the runner leaves the logging levels as they are, so the user's handlers
    (and pytest's caplog) see what they would see without it.
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        poll_interval: float = 1.0,
        max_invocation_page_bytes: int | None = None,
        execution_timeout: int = 300,
        invocation_timeout: int = 900,
        store: Any = None,
        skip_time: bool = True,
        *,
        functions: dict[str, Any] | None = None,
        workers: int = 4,
        isolation: str = "thread",
    ) -> None:
        self.handler = as_durable_handler(handler) or durable_execution(handler)
        self.poll_interval = poll_interval
        self.max_invocation_page_bytes = max_invocation_page_bytes
        self.execution_timeout = execution_timeout
        self.invocation_timeout = invocation_timeout
        #: a store URL, or a store object of `durable.testing.stores` (as the testing library's runner takes)
        self.store = getattr(store, "store_url", store)
        self._store_object = store if isinstance(store, InMemoryExecutionStore) else None
        self.skip_time = skip_time
        self.functions = functions or {}
        self.workers = workers
        self.isolation = isolation
        self.clock = VirtualClock()
        self.engine: Engine | None = None
        self._scratch: _ScratchStore | None = None
        self._store_url: Any = None
        self._logs: list[LogEntry] = []
        self._capture: _LogCapture | None = None
        self._arns: set[str] = set()

    def __enter__(self) -> DurableFunctionTestRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Open the engine (the first run does this too)."""
        if self.engine is not None:
            return
        store = self.store
        if store is None:
            self._scratch = _ScratchStore()
            store = f"sqlite:///{self._scratch.path / 'durable.db'}"
        self._store_url = store
        self.engine = Engine(
            store=store, clock=self.clock, workers=self.workers, isolation=self.isolation,
            lambda_context=create_test_lambda_context,
        )
        if self._store_object is not None:
            self._store_object.attach(self.engine.store)
        self.engine.register(self.handler.name, self.handler, self.invocation_timeout)
        for name, function in self.functions.items():
            self.engine.register(name, function, self.invocation_timeout)
        if self.skip_time:
            self.engine.skip_time(True)
        self._capture = _LogCapture(self._arns, self._logs)
        logging.getLogger().addHandler(self._capture)

    def close(self) -> None:
        if self._capture is not None:
            logging.getLogger().removeHandler(self._capture)
            self._capture = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self._scratch = None

    @property
    def _engine(self) -> Engine:
        if self.engine is None:
            self.start()
        assert self.engine is not None
        return self.engine

    def run(
        self,
        input: Any = None,
        execution_timeout: int | None = None,
        timeout: int | None = None,
        function_name: str = "test-function",
        execution_name: str = "execution-name",
        account_id: str = "123456789012",
    ) -> DurableFunctionTestResult:
        """Start an execution and block until it ends (`timeout`: the older, deprecated spelling)."""
        if timeout is not None and execution_timeout is None:
            warnings.warn(
                "timeout on run() is deprecated. Use execution_timeout instead.", DeprecationWarning, stacklevel=2
            )
            execution_timeout = timeout
        limit = execution_timeout if execution_timeout is not None else self.execution_timeout
        arn = self.run_async(input, limit, function_name=function_name, execution_name=execution_name,
                             account_id=account_id)
        return self.wait_for_result(arn, timeout=limit)

    def run_async(
        self,
        input: Any = None,
        execution_timeout: int | None = None,
        timeout: int | None = None,
        function_name: str = "test-function",
        execution_name: str = "execution-name",
        account_id: str = "123456789012",
    ) -> str:
        """Start an execution and return its id at once."""
        if timeout is not None and execution_timeout is None:
            execution_timeout = timeout
        limit = execution_timeout if execution_timeout is not None else self.execution_timeout
        arn = self._engine.start(self.handler.name, normalize_input(input), execution_timeout=limit)
        self._arns.add(arn)
        return arn

    def wait_for_result(self, execution_arn: str, timeout: int = 60) -> DurableFunctionTestResult:
        """The result once the execution ends; TimeoutError if it has not within `timeout` seconds."""
        try:
            record = self._engine.wait(execution_arn, timeout=timeout)
        except TimeoutError:
            raise TimeoutError("Execution did not complete within timeout") from None
        except ValidationError:
            raise ResourceNotFoundException("execution does not exist.") from None
        return self._result(record)

    def wait_for_callback(self, execution_arn: str, name: str | None = None, timeout: int = 60) -> str:
        """The id of a callback the execution started and then waited on (named `name`; else the latest).

        A callback counts once the invocation that created it has ended, so the
        handler is waiting on it.  TimeoutError if none does within `timeout` seconds
        (an execution that does not exist has none, as the testing library sees it).
        """
        started = time.time()
        pause = 0.002
        while time.time() - started < timeout:
            try:
                callback_id = _ready_callback(self._engine.history(execution_arn), name)
            except ValidationError:
                callback_id = None
            if callback_id:
                return callback_id
            time.sleep(min(pause, self.poll_interval))
            pause = min(pause * 2, 0.05)
        elapsed = time.time() - started
        raise TimeoutError(f"Callback did not become available within {timeout}s (elapsed: {elapsed:.1f}s).")

    def send_callback_success(self, callback_id: str, result: bytes | str | None = None) -> None:
        """Complete the callback with `result`; an empty one is no result, as the testing library reads it."""
        payload = result or None
        self._callback("success", callback_id, lambda: self._engine.send_callback_success(callback_id, payload))

    def send_callback_failure(self, callback_id: str, error: ErrorObject | dict[str, Any] | None = None) -> None:
        self._callback("failure", callback_id, lambda: self._engine.send_callback_failure(callback_id, error))

    def send_callback_heartbeat(self, callback_id: str) -> None:
        self._callback("heartbeat", callback_id, lambda: self._engine.send_callback_heartbeat(callback_id))

    def _callback(self, kind: str, callback_id: str, send: Callable[[], None]) -> None:
        if not callback_id:
            raise InvalidParameterValueException("callback_id is required")
        try:
            send()
        except CallbackConflictError as error:  # the callback is no longer waiting: said as the testing library says it
            if self._left_open_by_an_ended_execution(callback_id):
                # the testing library takes these (a quorum's late approvers, say); the ended execution stays ended
                logger.debug("callback {} of an ended execution: accepted, nothing changes", callback_id)
                return
            closed = (
                f"Callback {callback_id} is not active" if kind == "heartbeat"
                else f"Callback operation [{callback_id}] is not in STARTED state"
            )
            raise ResourceNotFoundException(f"Failed to process callback {kind}: {closed}") from error
        except (UnknownCallbackError, ValidationError) as error:
            raise ResourceNotFoundException(f"Failed to process callback {kind}: {error}") from error

    def _left_open_by_an_ended_execution(self, callback_id: str) -> bool:
        """Whether the callback never completed but its execution ended (a map that had enough without it)."""
        execution_id, operation_id = self._engine.callback_ids.open(callback_id)
        record = self._engine.store.get_execution(execution_id)
        op = self._engine.store.get_operation(execution_id, operation_id)
        return record is not None and record.status.is_terminal and op is not None and not op.status.is_terminal

    def get_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's history events (ours)."""
        return self._engine.history(execution_arn)

    def get_result(self, execution_arn: str) -> DurableFunctionTestResult:
        """The result as it stands now, ended or not (ours)."""
        return self._result(self._engine.status(execution_arn))

    def _result(self, record: ExecutionRecord) -> DurableFunctionTestResult:
        engine = self._engine
        records = _OperationsByParent(sorted(engine.operations(record.execution_id), key=_creation_order))
        top = [create_operation(op, records) for op in records.by_parent.get(None, [])]
        status, error = _outcome(record)
        if record.status.is_terminal and isinstance(self._store_url, str) and self._store_url.startswith(
            ("sqlite:", "postgresql:", "postgres:")
        ):
            source = functools.partial(_stored_history, self._store_url, record.execution_id, self._scratch)
        else:  # still running (the history as it stands now) or a store that ends with the engine
            source = functools.partial(list, engine.history(record.execution_id))
        return DurableFunctionTestResult(status=status, operations=top, result=record.result, error=error)._with(
            [entry for entry in list(self._logs) if entry.execution_arn == record.execution_id],
            record.execution_id,
            source,
        )


class _ScratchStore:
    """The runner's own store folder; removed once neither the runner nor a result that may read it remains."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="durable-test-"))
        weakref.finalize(self, shutil.rmtree, self.path, True)


def _stored_history(url: str, execution_id: str, _keep: _ScratchStore | None) -> list[dict[str, Any]]:
    store = open_store(url)
    try:
        return store.history(execution_id)
    finally:
        store.close()


def _creation_order(record: OperationRecord) -> tuple[int, ...]:
    """Operations in the order the handler asked for them: ids are paths of counters (`3`, `3-2`)."""
    return tuple(int(part) for part in record.operation_id.split("-") if part.isdigit())


def _outcome(record: ExecutionRecord) -> tuple[InvocationStatus, ErrorObject | None]:
    """The testing library's status: SUCCEEDED, FAILED (timed out and stopped included) or PENDING."""
    if record.status is ExecutionStatus.SUCCEEDED:
        return InvocationStatus.SUCCEEDED, None
    if record.status is ExecutionStatus.RUNNING:
        return InvocationStatus.PENDING, None
    if record.status is ExecutionStatus.TIMED_OUT:
        timeout = None if record.deadline is None else round(record.deadline - record.created)
        return InvocationStatus.FAILED, ErrorObject.from_message(f"Execution timed out after {timeout} seconds.")
    return InvocationStatus.FAILED, record.error


def _ready_callback(events: list[dict[str, Any]], name: str | None) -> str | None:
    """As the testing library reads a history: a started callback with an InvocationCompleted after it."""
    ended = [i for i, event in enumerate(events) if event.get("EventType") == "InvocationCompleted"]
    ready = [
        event for i, event in enumerate(events)
        if event.get("EventType") == "CallbackStarted" and any(j > i for j in ended)
        and (name is None or event.get("Name") == name)
    ]
    if not ready:
        return None
    chosen = ready[0] if name is not None else ready[-1]
    details = chosen.get("CallbackStartedDetails") or {}
    return cast(str | None, details.get("CallbackId"))


def _invocations(history: list[dict[str, Any]]) -> list[InvocationRecord]:
    out = []
    for event in history:
        if event["EventType"] != "InvocationCompleted":
            continue
        details = event.get("InvocationCompletedDetails") or {}
        error = (details.get("Error") or {}).get("Payload")
        out.append(InvocationRecord(
            details.get("StartTimestamp"), details.get("EndTimestamp"), "FAILED" if error else "COMPLETED", error
        ))
    return out


class DurableChildContextTestRunner(DurableFunctionTestRunner):
    """Tests a `@durable_with_child_context` function on its own, as the body of a handler."""

    def __init__(
        self, context_function: Callable[Concatenate[DurableContext, P], Any], *args: Any, skip_time: bool = True,
        **kwargs: Any,
    ) -> None:
        @durable_execution
        def handler(event: Any, context: DurableContext) -> Any:
            return context_function(*args, **kwargs)(context)

        super().__init__(handler, skip_time=skip_time)


_CLOUD = (
    "{} drives functions deployed on AWS Lambda, which this runtime does not use; run handlers locally with "
    "DurableFunctionTestRunner"
)


class DurableFunctionCloudTestRunner:
    """The testing library's runner for deployed Lambda functions: importable, but it refuses to run."""

    def __init__(
        self, function_name: str, region: str = "us-west-2", lambda_endpoint: str | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.function_name = function_name
        self.region = region
        self.lambda_endpoint = lambda_endpoint
        self.poll_interval = poll_interval

    def __enter__(self) -> DurableFunctionCloudTestRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, input: str | None = None, timeout: int = 60) -> DurableFunctionTestResult:
        raise _cloud_refused()

    def run_async(self, input: str | None = None, timeout: int = 60) -> str:
        raise _cloud_refused()

    def send_callback_success(self, callback_id: str, result: bytes | None = None) -> None:
        raise _cloud_refused()

    def send_callback_failure(self, callback_id: str, error: ErrorObject | None = None) -> None:
        raise _cloud_refused()

    def send_callback_heartbeat(self, callback_id: str) -> None:
        raise _cloud_refused()

    def wait_for_result(self, execution_arn: str, timeout: int = 60) -> DurableFunctionTestResult:
        raise _cloud_refused()

    def wait_for_callback(self, execution_arn: str, name: str | None = None, timeout: int = 60) -> str:
        raise _cloud_refused()


def _cloud_refused() -> DurableFunctionsTestError:
    return DurableFunctionsTestError(_CLOUD.format("DurableFunctionCloudTestRunner"))


@dataclasses.dataclass(frozen=True)
class WebRunnerConfig:
    """The testing library's settings for serving its HTTP contract to a local Lambda emulator."""

    web_service: Any = None
    lambda_endpoint: str = "http://127.0.0.1:3001"
    local_runner_endpoint: str = "http://0.0.0.0:5000"
    local_runner_region: str = "us-west-2"
    local_runner_mode: str = "local"
    store_type: StoreType = StoreType.MEMORY
    store_path: str | None = None
    invocation_timeout_seconds: int = 900
    skip_time: bool = False
    max_invocation_page_bytes: int | None = None


class WebRunner:
    """The testing library's web runner (an emulated Lambda service): importable, but it refuses to start.

    Our own HTTP API is `durable serve` (`durable.http_api`).
    """

    def __init__(self, config: WebRunnerConfig) -> None:
        self._config = config

    def __enter__(self) -> WebRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise DurableFunctionsTestError(_CLOUD.format("WebRunner") + " (or `durable serve` for an HTTP API)")

    def serve_forever(self) -> None:
        self.start()

    def stop(self) -> None:
        return None
