"""The service's rules, as pure functions: an update or a due timer in, a new record and events out.

Nothing here touches a store, a thread or a clock: callers pass `now`.  The
ExecutionState actor applies these to the operations it owns; the results are
committed by the CheckpointWriter.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from durable.engine.history import HistoryEvent, error_details, operation_event, result_details
from durable.exceptions import InvalidStateError
from durable.lambda_service import (
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)

_EVENT_PREFIX = {
    OperationType.STEP: "Step",
    OperationType.WAIT: "Wait",
    OperationType.CONTEXT: "Context",
    OperationType.CALLBACK: "Callback",
    OperationType.CHAINED_INVOKE: "ChainedInvoke",
}


def apply_update(
    current: Operation | None, update: OperationUpdate, now: float
) -> tuple[Operation, list[HistoryEvent]]:
    """The record and events that follow from one checkpoint request.

    A RETRY without an error is a poll that wants another look later (a
    wait_for_condition check that chose to continue): the service records it
    as StepSucceeded with the state and the delay, and keeps the operation PENDING.
    """
    action = update.action
    prefix = _EVENT_PREFIX[update.operation_type]
    if current is not None and current.status.is_terminal:
        raise InvalidStateError(
            f"operation {update.operation_id} is already {current.status.value}; "
            f"cannot {action.value} it"
        )
    if action is OperationAction.START:
        if current is not None and current.status is OperationStatus.STARTED:
            raise InvalidStateError(f"operation {update.operation_id} is already started")
        op = Operation(
            operation_id=update.operation_id,
            operation_type=update.operation_type,
            status=OperationStatus.STARTED,
            parent_id=update.parent_id,
            name=update.name,
            sub_type=update.sub_type,
            start_timestamp=current.start_timestamp if current else now,
            attempt=(current.attempt + 1) if current else 1,
            wait_seconds=update.wait_seconds,
            scheduled_end_timestamp=(now + update.wait_seconds) if update.wait_seconds is not None else None,
            error=current.error if current else None,
        )
        details: dict[str, object] = {}
        if update.operation_type is OperationType.WAIT:
            details = {"Duration": update.wait_seconds, "ScheduledEndTimestamp": op.scheduled_end_timestamp}
        return op, [operation_event(op, f"{prefix}Started", now, details)]
    if current is None:
        raise InvalidStateError(
            f"operation {update.operation_id} must be started before it can {action.value.lower()}"
        )
    if action is OperationAction.SUCCEED:
        op = attrs.evolve(
            current,
            status=OperationStatus.SUCCEEDED,
            end_timestamp=now,
            result=update.payload,
            replay_children=update.replay_children,
            attempt=max(current.attempt, 1),
        )
        details = result_details(update.payload)
        if update.replay_children:
            details["ReplayChildren"] = True
        _add_retry_details(op, details)
        return op, [operation_event(op, f"{prefix}Succeeded", now, details)]
    if action is OperationAction.FAIL:
        op = attrs.evolve(
            current, status=OperationStatus.FAILED, end_timestamp=now, error=update.error,
            attempt=max(current.attempt, 1),
        )
        details = error_details(update.error)
        _add_retry_details(op, details)
        return op, [operation_event(op, f"{prefix}Failed", now, details)]
    if action is OperationAction.RETRY:
        delay = update.next_attempt_delay_seconds or 0
        op = attrs.evolve(
            current,
            status=OperationStatus.PENDING,
            error=update.error,
            result=update.payload if update.payload is not None else current.result,
            next_attempt_timestamp=now + delay,
            attempt=max(current.attempt, 1),
        )
        retry = {"CurrentAttempt": op.attempt, "NextAttemptDelaySeconds": delay}
        if update.error is None:
            details = {**result_details(update.payload), "RetryDetails": retry}
            return op, [operation_event(op, f"{prefix}Succeeded", now, details)]
        details = {**error_details(update.error), "RetryDetails": retry}
        return op, [operation_event(op, f"{prefix}Failed", now, details)]
    if action is OperationAction.CANCEL:
        op = attrs.evolve(current, status=OperationStatus.CANCELLED, end_timestamp=now)
        details = {"Duration": op.wait_seconds} if op.wait_seconds is not None else {}
        return op, [operation_event(op, f"{prefix}Cancelled", now, details)]
    raise InvalidStateError(f"unknown action {action}")


def _add_retry_details(op: Operation, details: dict[str, object]) -> None:
    if op.operation_type is OperationType.STEP:
        details["RetryDetails"] = {"CurrentAttempt": op.attempt}


def fire_due(ops: Iterable[Operation], now: float) -> tuple[list[Operation], list[HistoryEvent]]:
    """What the service does when time passes: waits that are due succeed, retries that are due become ready."""
    changed: list[Operation] = []
    events: list[HistoryEvent] = []
    for op in ops:
        due = op.due_timestamp
        if due is None or due > now:
            continue
        if op.operation_type is OperationType.WAIT:
            done = attrs.evolve(op, status=OperationStatus.SUCCEEDED, end_timestamp=now)
            changed.append(done)
            events.append(operation_event(done, "WaitSucceeded", now, {"Duration": op.wait_seconds}))
        elif op.status is OperationStatus.PENDING:
            changed.append(attrs.evolve(op, status=OperationStatus.READY))
    return changed, events

