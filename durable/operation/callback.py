"""context.create_callback and context.wait_for_callback: operations an outside system completes.

Creating a callback checkpoints its start (and waits for the commit); the
service mints a signed `callback_id` for it (`durable.core.callback_ids`),
which the handler hands to the outside system.  `Callback.result()` returns
what the outside system sent (as it was sent, unless a serdes reads it),
raises CallbackExternalError or CallbackTimeoutError, or suspends until the
callback closes: an outside completion wakes the execution, and a timeout or
a missed heartbeat is a durable timer the service fires.

`wait_for_callback` is a child context (sub-type WaitForCallback) holding a
callback named "<name> create callback id" and a submitter step named
"<name> submitter" that hands the id to the outside system.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar

from durable.clock import skew
from durable.config import CallbackConfig, StepConfig, WaitForCallbackConfig
from durable.core.records import OperationAction, OperationRecord, OperationStatus
from durable.exceptions import CallbackError, CallbackExternalError, CallbackTimeoutError, suspend
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.operation.base import recorded, update
from durable.serdes import PassThroughSerDes, SerDes, deserialize
from durable.types import Callback as CallbackProtocol
from durable.types import DurableContext, StepContext, WaitForCallbackContext

T = TypeVar("T")

PASS_THROUGH_SERDES: SerDes = PassThroughSerDes()
_FAILED = frozenset(
    {OperationStatus.FAILED, OperationStatus.CANCELLED, OperationStatus.TIMED_OUT, OperationStatus.STOPPED}
)


class Callback(Generic[T], CallbackProtocol[T]):
    """A started callback: give `callback_id` to the outside system, then ask for `result()`."""

    def __init__(self, callback_id: str, operation_id: str, state: Invocation, serdes: SerDes | None = None) -> None:
        self.callback_id = callback_id
        self.operation_id = operation_id
        self.state = state
        self.serdes = serdes

    def result(self) -> T | None:
        record = self.state.lookup(self.operation_id)
        if record is None:
            raise CallbackError(message="Callback operation must exist")
        if record.status in _FAILED:
            _raise_terminal_failure(record)
        if record.status is OperationStatus.SUCCEEDED:
            if record.result is None:
                return None
            serdes = self.serdes if self.serdes is not None else PASS_THROUGH_SERDES
            return deserialize(serdes, record.result, self.operation_id, self.state.execution_arn)
        raise suspend(
            "Callback result not received yet. Suspending execution while waiting for result.",
            record.due_at(skew(self.state.clock)), waiting_on=self.operation_id,
        )


def _raise_terminal_failure(record: OperationRecord) -> NoReturn:
    error = record.error
    timed_out = record.status is OperationStatus.TIMED_OUT
    kind: type[CallbackError] = CallbackTimeoutError if timed_out else CallbackExternalError
    message = error.message if error and error.message else ("Callback timed out" if timed_out else "Callback failed")
    raise kind(message=message, data=error.data if error else None, stack_trace=error.stack_trace if error else None)


def create_callback_id(invocation: Invocation, identifier: OperationIdentifier, config: CallbackConfig | None) -> str:
    """The callback's id, starting the callback first if this is new work."""
    record = recorded(invocation, identifier)
    if record is None:
        timeout = config.timeout_seconds if config else 0
        heartbeat = config.heartbeat_timeout_seconds if config else 0
        invocation.checkpoint(update(
            identifier, OperationAction.START, wait_seconds=timeout or None, heartbeat_timeout=heartbeat or None
        ))
        record = invocation.lookup(identifier.operation_id)
    if record is None or record.callback_id is None:
        raise CallbackError(f"Missing callback details for operation: {identifier.operation_id}")
    return record.callback_id


def wait_for_callback_handler(
    context: DurableContext,
    submitter: Callable[[str, WaitForCallbackContext], Any],
    name: str | None = None,
    config: WaitForCallbackConfig | None = None,
) -> Any:
    """The body of wait_for_callback's child context: create the callback, submit its id, wait for the result."""
    prefix = f"{name} " if name else ""
    callback = context.create_callback(name=f"{prefix}create callback id", config=config)

    def submit(step_context: StepContext) -> Any:
        return submitter(callback.callback_id, WaitForCallbackContext(logger=step_context.logger))

    step_config = StepConfig(retry_strategy=config.retry_strategy, serdes=config.serdes) if config else None
    context.step(submit, name=f"{prefix}submitter", config=step_config)
    return callback.result()
