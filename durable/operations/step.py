"""context.step: run a function once (per retry) and checkpoint its outcome.

AT_LEAST_ONCE_PER_RETRY checkpoints the start without waiting for it: a crash
mid-attempt re-runs that attempt.  AT_MOST_ONCE_PER_RETRY waits for the start
to be committed before running, and a started attempt found on replay is
never re-run: it fails with StepInterruptedError and follows the retry
strategy.  Retries wait on a durable timer: the step checkpoints RETRY with
the delay and the invocation suspends; the service makes the step READY when
the delay has passed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from durable.config import StepConfig, StepSemantics
from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
    RecordUpdate,
)
from durable.exceptions import (
    SerDesError,
    StepError,
    StepInterruptedError,
    SuspendExecution,
)
from durable.operations.base import check_replay, recorded_error, updater
from durable.retries import RetryPresets
from durable.serdes import SerDesContext, deserialize, serialize
from durable.types import StepContext

if TYPE_CHECKING:
    from durable.context import DurableContext

T = TypeVar("T")


def run_step(
    context: DurableContext,
    func: Callable[[StepContext], T],
    name: str | None,
    config: StepConfig | None,
) -> T:
    config = config or StepConfig()
    name = name if name is not None else getattr(func, "_durable_step_name", None)
    strategy = config.retry_strategy or getattr(func, "_durable_retry_strategy", None) or RetryPresets.default()
    invocation = context.invocation
    operation_id = context.next_operation_id()
    serdes_context = SerDesContext(operation_id, invocation.execution_arn)
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.STEP, name)

    update = updater(context, operation_id, OperationType.STEP, name, OperationSubType.STEP)

    attempt = 1
    needs_start = True
    if recorded is not None:
        status = recorded.status
        if status is OperationStatus.SUCCEEDED:
            return deserialize(config.serdes, recorded.result, serdes_context)
        if status is OperationStatus.FAILED:
            raise recorded_error(StepError, recorded.error)
        if status is OperationStatus.PENDING:
            raise SuspendExecution(f"step {operation_id} waits for its next attempt", recorded.next_attempt_timestamp)
        if status is OperationStatus.STARTED:
            attempt = recorded.attempt
            if config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
                interrupted = StepInterruptedError(
                    f"step {name or operation_id} attempt {attempt} was started and never finished",
                    "StepInterruptedError",
                )
                return _failed(context, update, strategy, interrupted, attempt)
            needs_start = False
        else:
            attempt = recorded.attempt + 1

    if needs_start:
        at_most_once = config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
        invocation.checkpoint(update(OperationAction.START), wait=at_most_once)

    step_context = StepContext(
        logger=context.logger.bind(operation_id=operation_id, attempt=attempt),
        attempt=attempt,
        operation_id=operation_id,
    )
    try:
        value = func(step_context)
    except Exception as error:
        return _failed(context, update, strategy, error, attempt)
    try:
        payload = serialize(config.serdes, value, serdes_context)
    except SerDesError as error:
        invocation.checkpoint(update(OperationAction.FAIL, error=ErrorObject.from_exception(error)))
        raise
    invocation.checkpoint(update(OperationAction.SUCCEED, payload=payload))
    return deserialize(config.serdes, payload, serdes_context)


def _failed(
    context: DurableContext,
    update: Callable[..., RecordUpdate],
    strategy: Callable[[Exception, int], Any],
    error: Exception,
    attempt: int,
) -> Any:
    recorded = ErrorObject.from_exception(error)
    decision = strategy(error, attempt)
    if decision.should_retry:
        delay = max(1, decision.delay.seconds)
        context.invocation.checkpoint(update(OperationAction.RETRY, error=recorded, next_attempt_delay_seconds=delay))
        raise SuspendExecution(
            f"step attempt {attempt} failed; retrying in {delay} s", context.invocation.clock.now() + delay
        )
    context.invocation.checkpoint(update(OperationAction.FAIL, error=recorded))
    raise recorded_error(StepError, recorded) from error
