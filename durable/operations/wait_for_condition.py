"""context.wait_for_condition: poll a check function on durable timers until the strategy stops.

One STEP operation (sub-type WaitForCondition) carries the state.  Each check
is an attempt: the new state is checkpointed with the delay to the next one
(the service records StepSucceeded and keeps the operation PENDING), and the
invocation suspends.  A stop checkpoints the final state; a check that raises,
or a strategy that gives up, fails the operation with WaitForConditionError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import SuspendExecution, ValidationError, WaitForConditionError
from durable.operations.base import check_replay, recorded_error, updater
from durable.serdes import SerDesContext, deserialize, serialize
from durable.types import WaitForConditionCheckContext
from durable.waits import WaitForConditionConfig

if TYPE_CHECKING:
    from durable.context import DurableContext

T = TypeVar("T")


def run_wait_for_condition(
    context: DurableContext,
    check: Callable[[T, WaitForConditionCheckContext], T],
    config: WaitForConditionConfig[T],
    name: str | None,
) -> T:
    if not callable(check):
        raise ValidationError(f"wait_for_condition check must be callable, got {type(check).__name__}")
    if config is None or not callable(getattr(config, "wait_strategy", None)):
        raise ValidationError("wait_for_condition needs a WaitForConditionConfig with a wait_strategy")
    invocation = context.invocation
    operation_id = context.next_operation_id()
    sub_type = OperationSubType.WAIT_FOR_CONDITION
    serdes_context = SerDesContext(operation_id, invocation.execution_arn)
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.STEP, name, sub_type)

    update = updater(context, operation_id, OperationType.STEP, name, sub_type)

    state: Any = config.initial_state
    attempt = 1
    if recorded is not None:
        if recorded.status is OperationStatus.SUCCEEDED:
            return deserialize(config.serdes, recorded.result, serdes_context)
        if recorded.status is OperationStatus.FAILED:
            raise recorded_error(WaitForConditionError, recorded.error)
        if recorded.status is OperationStatus.PENDING:
            raise SuspendExecution(
                f"wait_for_condition {operation_id} waits for its next check", recorded.next_attempt_timestamp
            )
        if recorded.result is not None:
            state = deserialize(config.serdes, recorded.result, serdes_context)
        attempt = recorded.attempt + 1 if recorded.status is OperationStatus.READY else max(recorded.attempt, 1)

    if recorded is None or recorded.status is OperationStatus.READY:
        invocation.checkpoint(update(OperationAction.START), wait=False)
    check_context = WaitForConditionCheckContext(
        logger=context.logger.bind(operation_id=operation_id, attempt=attempt), attempt=attempt
    )
    try:
        state = check(state, check_context)
        decision = config.wait_strategy(state, attempt)
    except Exception as error:
        failure = ErrorObject.from_exception(error)
        invocation.checkpoint(update(OperationAction.FAIL, error=failure))
        raise recorded_error(WaitForConditionError, failure) from error
    payload = serialize(config.serdes, state, serdes_context)
    if not decision.should_continue:
        invocation.checkpoint(update(OperationAction.SUCCEED, payload=payload))
        return deserialize(config.serdes, payload, serdes_context)
    delay = max(1, decision.delay.seconds)
    # Not waited on: the suspension that follows, and any refresh or closing write after it, reach the
    # ExecutionState behind this checkpoint, so the next check can never run before it is recorded.
    invocation.checkpoint(update(OperationAction.RETRY, payload=payload, next_attempt_delay_seconds=delay), wait=False)
    raise SuspendExecution(
        f"wait_for_condition {operation_id} checks again in {delay} s", invocation.clock.now() + delay
    )
