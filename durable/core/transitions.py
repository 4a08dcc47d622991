"""The service's rules, as pure functions: an update or a due timer in, a new record and events out.

Nothing here touches a store, a thread or a clock: callers pass `now`.  The
ExecutionState actor applies these to the operations it owns; the results are
committed by the CheckpointWriter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from durable.core.history import HistoryEvent, error_details, operation_event, result_details
from durable.core.records import (
    CallbackTimeoutType,
    ErrorObject,
    OperationAction,
    OperationRecord,
    OperationStatus,
    OperationType,
    RecordUpdate,
)
from durable.exceptions import InvalidStateError

_EVENT_PREFIX = {
    OperationType.STEP: "Step",
    OperationType.WAIT: "Wait",
    OperationType.CONTEXT: "Context",
    OperationType.CALLBACK: "Callback",
    OperationType.CHAINED_INVOKE: "ChainedInvoke",
}


def apply_update(
    current: OperationRecord | None,
    update: RecordUpdate,
    now: float,
    callback_id: str | None = None,
    wall: float | None = None,
) -> tuple[OperationRecord, list[HistoryEvent]]:
    """The record and events that follow from one checkpoint request.

    A callback's START takes the id the service minted for it (`callback_id`).
    Timeouts start from `wall` (real time; `now` when not given), timers from `now`.

    A RETRY without an error is a poll that wants another look later (a
    wait_for_condition check that chose to continue): the service records it
    as StepSucceeded with the state and the delay, and keeps the operation PENDING.
    """
    action = update.action
    prefix = _EVENT_PREFIX[update.operation_type]
    if current is not None:
        _check_same_operation(current, update)
    if current is not None and current.status.is_terminal:
        raise InvalidStateError(
            f"operation {update.operation_id} is already {current.status.value}; "
            f"cannot {action.value} it"
        )
    if action is OperationAction.START:
        if update.issued_at is not None:
            now = min(now, update.issued_at)
        timeout_start = now if wall is None or update.operation_type is OperationType.WAIT else wall
        if current is not None and current.status is OperationStatus.STARTED:
            raise InvalidStateError(f"operation {update.operation_id} is already started")
        op = OperationRecord(
            operation_id=update.operation_id,
            operation_type=update.operation_type,
            status=OperationStatus.STARTED,
            parent_id=update.parent_id,
            name=update.name,
            sub_type=update.sub_type,
            start_timestamp=current.start_timestamp if current else now,
            attempt=(current.attempt + 1) if current else 1,
            wait_seconds=update.wait_seconds,
            scheduled_end_timestamp=(timeout_start + update.wait_seconds) if update.wait_seconds is not None else None,
            error=current.error if current else None,
            callback_id=callback_id,
            heartbeat_timeout=update.heartbeat_timeout,
            heartbeat_deadline=(
                (timeout_start + update.heartbeat_timeout) if update.heartbeat_timeout is not None else None
            ),
            extra=update.extra,
        )
        return op, [operation_event(op, f"{prefix}Started", now, _started_details(op, update))]
    if current is None:
        raise InvalidStateError(
            f"operation {update.operation_id} must be started before it can {action.value.lower()}"
        )
    if action is OperationAction.SUCCEED:
        op = current.evolve(
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
        op = current.evolve(
            status=OperationStatus.FAILED, end_timestamp=now, error=update.error, attempt=max(current.attempt, 1)
        )
        details = error_details(update.error)
        _add_retry_details(op, details)
        return op, [operation_event(op, f"{prefix}Failed", now, details)]
    if action is OperationAction.RETRY:
        delay = update.next_attempt_delay_seconds or 0
        asked = now if update.issued_at is None else min(now, update.issued_at)
        op = current.evolve(
            status=OperationStatus.PENDING,
            error=update.error,
            result=update.payload if update.payload is not None else current.result,
            next_attempt_timestamp=asked + delay,
            attempt=max(current.attempt, 1),
        )
        retry = {"CurrentAttempt": op.attempt, "NextAttemptDelaySeconds": delay}
        if update.error is None:
            details = {**result_details(update.payload), "RetryDetails": retry}
            return op, [operation_event(op, f"{prefix}Succeeded", now, details)]
        details = {**error_details(update.error), "RetryDetails": retry}
        return op, [operation_event(op, f"{prefix}Failed", now, details)]
    if action is OperationAction.CANCEL:
        op = current.evolve(status=OperationStatus.CANCELLED, end_timestamp=now)
        details = {"Duration": op.wait_seconds} if op.wait_seconds is not None else {}
        return op, [operation_event(op, f"{prefix}Cancelled", now, details)]
    raise InvalidStateError(f"unknown action {action}")


def _check_same_operation(current: OperationRecord, update: RecordUpdate) -> None:
    """Refuse an update that names the recorded operation differently (its type, sub-type, name or parent),
    as the service refuses it: the handler changed between invocations, or names the operation by
    something that changes (a timestamp, a random id)."""
    if update.operation_type is not current.operation_type:
        raise InvalidStateError("Inconsistent operation type.")
    if update.sub_type is not None and update.sub_type is not current.sub_type:
        raise InvalidStateError("Inconsistent operation subtype.")
    if update.name is not None and update.name != current.name:
        raise InvalidStateError("Inconsistent operation name.")
    if update.parent_id is not None and update.parent_id != current.parent_id:
        raise InvalidStateError("Inconsistent parent operation id.")


def _started_details(op: OperationRecord, update: RecordUpdate) -> dict[str, object]:
    details: dict[str, object] = {}
    if op.operation_type is OperationType.WAIT:
        details = {"Duration": op.wait_seconds, "ScheduledEndTimestamp": op.scheduled_end_timestamp}
    elif op.operation_type is OperationType.CALLBACK:
        details = {"CallbackId": op.callback_id}
        if op.wait_seconds is not None:
            details["Timeout"] = op.wait_seconds
        if op.heartbeat_timeout is not None:
            details["HeartbeatTimeout"] = op.heartbeat_timeout
    elif op.operation_type is OperationType.CHAINED_INVOKE:
        extra = op.extra or {}
        details = {
            "FunctionName": extra.get("function_name"),
            "Input": {"Payload": update.payload, "Truncated": False},
            "ExecutedVersion": "$LATEST",
            "DurableExecutionArn": extra.get("child_execution_id"),
        }
        if extra.get("tenant_id") is not None:
            details["TenantId"] = extra["tenant_id"]
        if op.wait_seconds is not None:
            details["Timeout"] = op.wait_seconds
    return details


def _add_retry_details(op: OperationRecord, details: dict[str, object]) -> None:
    if op.operation_type is OperationType.STEP:
        details["RetryDetails"] = {"CurrentAttempt": op.attempt}


def fire_due(
    ops: Iterable[OperationRecord], now: float, wall: float | None = None
) -> tuple[list[OperationRecord], list[HistoryEvent]]:
    """What the service does when time passes: waits that are due succeed, retries that are due become ready,
    callbacks and chained invokes whose timeout passed (in real time, `wall`) time out."""
    changed: list[OperationRecord] = []
    events: list[HistoryEvent] = []
    wall = now if wall is None else wall
    for op in ops:
        due = op.due_at(now - wall)
        if due is None or due > now:
            continue
        if op.operation_type is OperationType.WAIT:
            done = op.evolve(status=OperationStatus.SUCCEEDED, end_timestamp=now)
            changed.append(done)
            events.append(operation_event(done, "WaitSucceeded", now, {"Duration": op.wait_seconds}))
        elif op.status is OperationStatus.PENDING:
            changed.append(op.evolve(status=OperationStatus.READY))
        elif op.operation_type in _TIMES_OUT:
            done, event = time_out(op, now, wall)
            changed.append(done)
            events.append(event)
    return changed, events


_TIMES_OUT = {OperationType.CALLBACK, OperationType.CHAINED_INVOKE}


def time_out(op: OperationRecord, now: float, wall: float | None = None) -> tuple[OperationRecord, HistoryEvent]:
    """A callback or chained invoke whose timeout (or heartbeat deadline, in real time) passed."""
    wall = now if wall is None else wall
    if op.operation_type is OperationType.CALLBACK:
        missed_heartbeat = op.heartbeat_deadline is not None and op.heartbeat_deadline <= wall and (
            op.scheduled_end_timestamp is None or op.heartbeat_deadline < op.scheduled_end_timestamp
        )
        if missed_heartbeat:
            error = ErrorObject("Callback timed out on heartbeat", CallbackTimeoutType.HEARTBEAT.value)
        else:
            error = ErrorObject("Callback timed out", CallbackTimeoutType.TIMEOUT.value)
        event_type = "CallbackTimedOut"
    else:
        error = ErrorObject(f"chained invoke timed out after {op.wait_seconds} s", "Invoke.Timeout")
        event_type = "ChainedInvokeTimedOut"
    done = op.evolve(status=OperationStatus.TIMED_OUT, end_timestamp=now, error=error)
    return done, operation_event(done, event_type, now, error_details(error))


class CallbackAction(enum.Enum):
    """What an outside system can say about a callback."""

    SUCCEED = "succeed"
    FAIL = "fail"
    HEARTBEAT = "heartbeat"


def complete_callback(
    op: OperationRecord,
    action: CallbackAction,
    payload: str | None,
    error: ErrorObject | None,
    now: float,
    wall: float | None = None,
) -> tuple[OperationRecord, list[HistoryEvent]]:
    """What an outside system's success, failure or heartbeat does to an open callback (heartbeats in real time)."""
    if action is CallbackAction.SUCCEED:
        done = op.evolve(status=OperationStatus.SUCCEEDED, end_timestamp=now, result=payload)
        return done, [operation_event(done, "CallbackSucceeded", now, result_details(payload))]
    if action is CallbackAction.FAIL:
        error = error or ErrorObject()
        done = op.evolve(status=OperationStatus.FAILED, end_timestamp=now, error=error)
        return done, [operation_event(done, "CallbackFailed", now, error_details(error))]
    if op.heartbeat_timeout is None:
        return op, []
    return op.evolve(heartbeat_deadline=(now if wall is None else wall) + op.heartbeat_timeout), []


_CHILD_ENDINGS = {
    "SUCCEEDED": (OperationStatus.SUCCEEDED, "ChainedInvokeSucceeded"),
    "FAILED": (OperationStatus.FAILED, "ChainedInvokeFailed"),
    "TIMED_OUT": (OperationStatus.TIMED_OUT, "ChainedInvokeTimedOut"),
    "STOPPED": (OperationStatus.STOPPED, "ChainedInvokeStopped"),
}


def end_chained_invoke(
    op: OperationRecord, child_status: str, result: str | None, error: ErrorObject | None, now: float
) -> tuple[OperationRecord, list[HistoryEvent]]:
    """The caller's chained-invoke operation once the invoked execution has ended."""
    status, event_type = _CHILD_ENDINGS[child_status]
    if status is OperationStatus.SUCCEEDED:
        done = op.evolve(status=status, end_timestamp=now, result=result)
        return done, [operation_event(done, event_type, now, result_details(result))]
    error = error or ErrorObject(f"the invoked execution ended {child_status}", f"Invoke.{child_status.title()}")
    done = op.evolve(status=status, end_timestamp=now, error=error)
    return done, [operation_event(done, event_type, now, error_details(error))]

