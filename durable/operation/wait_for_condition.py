"""context.wait_for_condition: poll a check function on durable timers until the strategy stops.

One STEP operation (sub-type WaitForCondition) carries the state.  Each check
is an attempt.  Its START, which the SDK sends without waiting and batches,
travels in one message with the check's outcome, stamped with the time the
check began (plugins watching checkpoints see it go before the check, as
there): a crash in between leaves the record as it was, and the check runs
again as the same attempt either way.  The new state is checkpointed with the
delay to the next check (the service records StepSucceeded and keeps the
operation PENDING), and the invocation suspends.  A stop checkpoints the final
state and returns it; a check that raises, a strategy that gives up, or a
state its serdes cannot read back or write fails the operation with
WaitForConditionError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from durable.core.records import ErrorObject, OperationAction, OperationStatus
from durable.exceptions import InvocationError, WaitForConditionError, suspend
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.logger import Logger, LogInfo
from durable.operation.base import raise_operation_error, recorded, update
from durable.plugin_session import run_user_function
from durable.serdes import deserialize, serialize
from durable.types import WaitForConditionCheckContext
from durable.waits import WaitForConditionConfig

T = TypeVar("T")


def run_wait_for_condition(
    check: Callable[[T, WaitForConditionCheckContext], T],
    config: WaitForConditionConfig[T],
    invocation: Invocation,
    identifier: OperationIdentifier,
    operation_logger: Callable[[LogInfo], Logger],
) -> T:
    record = recorded(invocation, identifier)
    arn, operation_id = invocation.execution_arn, identifier.operation_id
    state: Any = config.initial_state
    attempt = 1
    if record is not None:
        if record.status is OperationStatus.SUCCEEDED:
            return None if record.result is None else deserialize(config.serdes, record.result, operation_id, arn)  # type: ignore[return-value]
        if record.status is OperationStatus.FAILED:
            raise_operation_error(record, WaitForConditionError)
        if record.status is OperationStatus.PENDING:
            raise suspend(
                f"wait_for_condition {identifier.name or operation_id} will retry at timestamp "
                f"{record.next_attempt_timestamp}", record.next_attempt_timestamp,
            )
        attempt = record.attempt + 1 if record.status is OperationStatus.READY else max(record.attempt, 1)
    started = None
    if record is None or record.status is OperationStatus.READY:
        started = update(identifier, OperationAction.START, issued_at=invocation.clock.now())
        if invocation.plugins is not None:
            invocation.checkpoint(started, wait=False)
            started = None
    check_context = WaitForConditionCheckContext(
        logger=operation_logger(LogInfo.from_operation_identifier(invocation, identifier, attempt)),
        attempt=attempt,
    )
    try:
        if record is not None and record.result:
            state = deserialize(config.serdes, record.result, operation_id, arn)
        state = run_user_function(invocation, identifier, check, state, check_context, attempt=attempt)
        decision = config.wait_strategy(state, attempt)
        payload = serialize(config.serdes, state, operation_id, arn)
    except Exception as error:
        if isinstance(error, InvocationError) and error.is_retryable():
            raise
        failure = ErrorObject.from_exception(error)
        invocation.checkpoint(update(identifier, OperationAction.FAIL, error=failure), started=started)
        failure.raise_as_operation_error(WaitForConditionError)
    if not decision.should_continue:
        invocation.checkpoint_outcome(update(identifier, OperationAction.SUCCEED, payload=payload), started)
        return state
    delay = max(1, decision.delay_seconds)
    # Not waited on: the suspension that follows, and any refresh or closing write after it, reach the
    # ExecutionState behind this checkpoint, so the next check can never run before it is recorded.  The
    # retry is due `delay` after `asked`, on the record and on the branch's timer alike.
    asked = invocation.clock.now()
    invocation.checkpoint(
        update(identifier, OperationAction.RETRY, payload=payload, next_attempt_delay_seconds=delay, issued_at=asked),
        wait=False,
        started=started,
    )
    raise suspend(f"wait_for_condition {identifier.name or operation_id} will retry in {delay} seconds", asked + delay)
