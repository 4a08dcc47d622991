"""context.create_callback: an operation that an outside system completes.

Creating the callback checkpoints its start; the service mints a signed
`callback_id` for it (see `durable.core.callback_ids`), which the handler
hands to the outside system.  `Callback.result()` returns the completed
result, raises the recorded failure or timeout, or suspends the invocation
until the callback closes: an outside completion wakes the execution, and a
timeout or missed heartbeat is a durable timer the service fires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from durable.config import CallbackConfig, Duration
from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import (
    CallbackExternalError,
    CallbackTimeoutError,
    SerDesError,
    SuspendExecution,
)
from durable.operations.base import check_replay, recorded_error, updater
from durable.serdes import SerDes, SerDesContext, deserialize

if TYPE_CHECKING:
    from durable.context import DurableContext

T = TypeVar("T")

TIMEOUT_ERROR_TYPES = frozenset({"Callback.Timeout", "Callback.Heartbeat"})


class Callback(Generic[T]):
    """A started callback: give `callback_id` to the outside system, then ask for `result()`."""

    def __init__(self, context: DurableContext, operation_id: str, callback_id: str, serdes: SerDes | None) -> None:
        self._context = context
        self.operation_id = operation_id
        self.callback_id = callback_id
        self._serdes = serdes

    def result(self) -> T:
        invocation = self._context.invocation
        op = invocation.lookup(self.operation_id)
        if op is None:
            raise SuspendExecution(f"callback {self.operation_id} is not recorded yet")
        if op.status is OperationStatus.SUCCEEDED:
            serdes_context = SerDesContext(self.operation_id, invocation.execution_arn)
            return decode_callback_result(self._serdes, op.result, serdes_context)
        if op.status is OperationStatus.TIMED_OUT:
            raise recorded_error(CallbackTimeoutError, op.error)
        if op.status.is_terminal:
            raise recorded_error(CallbackExternalError, op.error or ErrorObject("the callback failed", "CallbackError"))
        raise SuspendExecution(
            f"callback {self.operation_id} waits for an outside system", op.due_timestamp, self.operation_id
        )


def decode_callback_result(serdes: SerDes | None, payload: str | None, context: SerDesContext) -> Any:
    """A custom serdes reads the raw payload; the default reads JSON, and text that is not JSON is itself."""
    if serdes is not None or payload is None:
        return deserialize(serdes, payload, context)
    try:
        return deserialize(None, payload, context)
    except SerDesError:
        return payload


def run_create_callback(context: DurableContext, name: str | None, config: CallbackConfig | None) -> Callback[Any]:
    config = config or CallbackConfig()
    timeout, heartbeat = _seconds(config.timeout), _seconds(config.heartbeat_timeout)
    invocation = context.invocation
    operation_id = context.next_operation_id()
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.CALLBACK, name)
    if recorded is None:
        update = updater(context, operation_id, OperationType.CALLBACK, name, OperationSubType.CALLBACK)
        invocation.checkpoint(update(OperationAction.START, wait_seconds=timeout, heartbeat_timeout=heartbeat))
        recorded = invocation.lookup(operation_id)
    if recorded is None or recorded.callback_id is None:
        raise SuspendExecution(f"callback {operation_id} has no id yet")
    return Callback(context, operation_id, recorded.callback_id, config.serdes)


def _seconds(duration: Duration | None) -> int | None:
    return duration.seconds if duration is not None and duration.seconds > 0 else None
