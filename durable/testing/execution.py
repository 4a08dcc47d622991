"""An execution as the testing library's stores give it back (`store.load(arn)`, `store.list_all()`).

The runner writes this runtime's own stores, so these are read-only views
of what one holds: the execution's arn, its operations as the service
reports them (`durable.lambda_service.Operation`), whether it is complete,
how it closed, and its result as the handler's last invocation returned it.
As in the AWS local runner, the first operation is the EXECUTION itself
(its input, start and end); `get_assertable_operations` leaves it out.
"""

from __future__ import annotations

import datetime

import attrs

from durable.core.records import OperationRecord, OperationStatus, OperationType
from durable.execution import InvocationStatus
from durable.lambda_service import (
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    DurableExecutionInvocationOutput,
    ExecutionDetails,
    Operation,
    StepDetails,
    WaitDetails,
)
from durable.stores.base import ExecutionRecord, ExecutionStatus, Store
from durable.testing.exceptions import IllegalStateException

__all__ = ["Execution", "ExecutionStatus", "read_execution", "read_executions", "service_operation", "utc_datetime"]

#: how a closed execution's last invocation ended, by how the execution closed
_CLOSED_AS = {ExecutionStatus.SUCCEEDED: InvocationStatus.SUCCEEDED}


@attrs.frozen
class Execution:
    durable_execution_arn: str
    function_name: str
    #: the execution's input, as JSON text
    input: str | None
    operations: list[Operation]
    #: how the execution closed; None while it runs
    close_status: ExecutionStatus | None
    result: DurableExecutionInvocationOutput | None

    @property
    def is_complete(self) -> bool:
        return self.close_status is not None

    def get_operation_execution_started(self) -> Operation:
        """The EXECUTION operation, which every started execution has first."""
        if not self.operations:
            raise IllegalStateException("execution not started.")
        return self.operations[0]

    def get_assertable_operations(self) -> list[Operation]:
        """The handler's operations: all but the EXECUTION one."""
        return self.operations[1:]


def read_execution(store: Store, execution_id: str) -> Execution | None:
    record = store.get_execution(execution_id)
    return None if record is None else _view(store, record)


def read_executions(store: Store) -> list[Execution]:
    """Every execution the store holds, oldest first."""
    return [_view(store, record) for record in reversed(store.list_executions(limit=1_000_000))]


def _view(store: Store, record: ExecutionRecord) -> Execution:
    closed = record.status if record.status.is_terminal else None
    result = None
    if closed is not None:
        status = _CLOSED_AS.get(closed, InvocationStatus.FAILED)
        result = DurableExecutionInvocationOutput(status, record.result, record.error)
    started = Operation(
        operation_id=record.execution_id,
        operation_type=OperationType.EXECUTION,
        status=OperationStatus.STARTED if closed is None else OperationStatus(closed.value),
        name=record.name,
        start_timestamp=utc_datetime(record.created),
        end_timestamp=utc_datetime(record.ended),
        execution_details=ExecutionDetails(record.input),
    )
    return Execution(
        durable_execution_arn=record.execution_id,
        function_name=record.function_name,
        input=record.input,
        operations=[started, *(service_operation(op) for op in store.load_operations(record.execution_id))],
        close_status=closed,
        result=result,
    )


def service_operation(record: OperationRecord) -> Operation:
    """A record of this runtime as the service reports it: details per kind, datetimes in UTC."""
    kind, result, error = record.operation_type, record.result, record.error
    return Operation(
        operation_id=record.operation_id,
        operation_type=kind,
        status=record.status,
        parent_id=record.parent_id,
        name=record.name,
        start_timestamp=utc_datetime(record.start_timestamp),
        end_timestamp=utc_datetime(record.end_timestamp),
        sub_type=record.sub_type,
        execution_details=ExecutionDetails(record.result) if kind is OperationType.EXECUTION else None,
        context_details=(
            ContextDetails(record.replay_children, result, error)
            if kind is OperationType.CONTEXT else None
        ),
        step_details=(
            StepDetails(record.attempt, utc_datetime(record.next_attempt_timestamp), result, error)
            if kind is OperationType.STEP else None
        ),
        wait_details=WaitDetails(utc_datetime(record.scheduled_end_timestamp)) if kind is OperationType.WAIT else None,
        callback_details=(
            CallbackDetails(record.callback_id or "", result, error) if kind is OperationType.CALLBACK else None
        ),
        chained_invoke_details=ChainedInvokeDetails(result, error) if kind is OperationType.CHAINED_INVOKE else None,
    )


def utc_datetime(seconds: float | None) -> datetime.datetime | None:
    """Seconds since the epoch as an aware UTC datetime, as the service's models carry times."""
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
