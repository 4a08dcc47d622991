"""context.wait: a durable timer.

The wait checkpoints its start with the duration; the invocation suspends and
the service marks the wait SUCCEEDED when it is due, before re-invoking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from durable.config import Duration
from durable.core.records import (
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import SuspendExecution, ValidationError
from durable.operations.base import check_replay, updater

if TYPE_CHECKING:
    from durable.context import DurableContext


def run_wait(context: DurableContext, duration: Duration, name: str | None) -> None:
    if not isinstance(duration, Duration):
        raise ValidationError(f"wait takes a Duration, got {type(duration).__name__}")
    if duration.seconds < 1:
        raise ValidationError(f"wait duration must be at least 1 second, got {duration.seconds} s")
    invocation = context.invocation
    operation_id = context.next_operation_id()
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.WAIT, name)
    if recorded is not None:
        if recorded.status.is_terminal:
            return
        if recorded.status is OperationStatus.STARTED:
            raise SuspendExecution(f"wait {operation_id} is not due yet", recorded.scheduled_end_timestamp)
    update = updater(context, operation_id, OperationType.WAIT, name, OperationSubType.WAIT)
    invocation.checkpoint(update(OperationAction.START, wait_seconds=duration.seconds))
    raise SuspendExecution(
        f"wait {operation_id} started for {duration.seconds} s", invocation.clock.now() + duration.seconds
    )
