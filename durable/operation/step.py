"""context.step: run a function once per attempt and checkpoint its outcome.

AT_LEAST_ONCE_PER_RETRY checkpoints the start without waiting for it (it
rides with the outcome's write, or goes out at the next tick): a crash
mid-attempt re-runs that attempt.  AT_MOST_ONCE_PER_RETRY waits for the start
to be committed before running, and a started attempt found on replay is
never re-run: it counts as failed with StepInterruptedError and follows the
retry strategy.  Retries wait on a durable timer: the step checkpoints RETRY
with the delay and the invocation suspends until the service makes it READY.
An ExecutionError from the function (or from serialization) is never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from durable.config import StepConfig, StepSemantics
from durable.core.records import ErrorObject, OperationAction, OperationStatus
from durable.exceptions import ExecutionError, StepError, StepInterruptedError, suspend
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.logger import Logger, LogInfo
from durable.operation.base import raise_operation_error, recorded, update
from durable.plugin_session import run_user_function
from durable.retries import RetryPresets
from durable.serdes import deserialize, serialize
from durable.types import StepContext

T = TypeVar("T")


def run_step(
    func: Callable[[StepContext], T],
    config: StepConfig,
    invocation: Invocation,
    identifier: OperationIdentifier,
    operation_logger: Callable[[LogInfo], Logger],
) -> T:
    record = recorded(invocation, identifier)
    arn = invocation.execution_arn
    attempt = 1
    if record is not None:
        if record.status is OperationStatus.SUCCEEDED:
            if record.result is None:
                return None  # type: ignore[return-value]
            return deserialize(config.serdes, record.result, identifier.operation_id, arn)
        if record.status is OperationStatus.FAILED:
            raise_operation_error(record, StepError)
        if record.status is OperationStatus.PENDING:
            raise suspend(
                f"Retry scheduled for {identifier.name or identifier.operation_id} will retry at timestamp "
                f"{record.next_attempt_timestamp}", record.next_attempt_timestamp,
            )
        if record.status is OperationStatus.STARTED and config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
            interrupted = StepInterruptedError(
                f"Step operation_id={identifier.operation_id} name={identifier.name} was previously interrupted",
                identifier.operation_id,
            )
            _retry_or_fail(invocation, identifier, config, interrupted, record.attempt)
        attempt = record.attempt if record.status is OperationStatus.STARTED else record.attempt + 1
    if record is None or record.status is OperationStatus.READY:
        at_most_once = config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
        invocation.checkpoint(update(identifier, OperationAction.START), wait=at_most_once)
    step_context = StepContext(
        logger=operation_logger(LogInfo.from_operation_identifier(invocation, identifier, attempt)),
        attempt=attempt,
    )
    try:
        value = run_user_function(invocation, identifier, func, step_context, attempt=attempt)
        payload = serialize(config.serdes, value, identifier.operation_id, arn)
    except ExecutionError:
        raise
    except Exception as error:
        _retry_or_fail(invocation, identifier, config, error, attempt)
    invocation.checkpoint(update(identifier, OperationAction.SUCCEED, payload=payload))
    if payload is None:
        return None
    return deserialize(config.serdes, payload, identifier.operation_id, arn)


def _retry_or_fail(
    invocation: Invocation, identifier: OperationIdentifier, config: StepConfig, error: Exception, attempt: int
) -> NoReturn:
    """Checkpoint a retry and suspend until it is due, or checkpoint the failure and raise it as a StepError."""
    recorded_error = ErrorObject.from_exception(error)
    strategy = config.retry_strategy or RetryPresets.default()
    try:
        decision = strategy(error, attempt)
    except Exception as unusable:  # the strategy broke on this error (its __str__ raised, say): that fails the step
        failure = ErrorObject.from_exception(unusable)
        invocation.checkpoint(update(identifier, OperationAction.FAIL, error=failure))
        failure.raise_as_operation_error(StepError)
    if decision.should_retry:
        delay = max(1, decision.delay_seconds)
        invocation.checkpoint(
            update(identifier, OperationAction.RETRY, error=recorded_error, next_attempt_delay_seconds=delay)
        )
        raise suspend(f"Retry scheduled for {identifier.operation_id} in {delay} seconds",
                      invocation.clock.now() + delay)
    invocation.checkpoint(update(identifier, OperationAction.FAIL, error=recorded_error))
    recorded_error.raise_as_operation_error(StepError)


__all__ = ["run_step"]

