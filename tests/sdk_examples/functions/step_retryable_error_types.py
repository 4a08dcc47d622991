"""Retry only some exception types (retryable_error_types)."""

from typing import Any

from durable.config import (
    Duration,
    JitterStrategy,
    StepConfig,
)
from durable.context import DurableContext, StepContext
from durable.exceptions import StepError
from durable.execution import durable_execution
from durable.retries import (
    RetryStrategyConfig,
    create_retry_strategy,
)


class TransientServiceError(Exception):
    """An error worth retrying."""


class InvalidRequestError(Exception):
    """An error that retrying cannot fix."""


ERRORS = {"transient": TransientServiceError, "invalid": InvalidRequestError}


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    error_cls = ERRORS[event["error"]]
    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=3,
            initial_delay=Duration.from_seconds(1),
            jitter_strategy=JitterStrategy.NONE,
            retryable_error_types=[TransientServiceError],
        )
    )

    def call(step_context: StepContext) -> str:
        raise error_cls(f"{event['error']} error on attempt {step_context.attempt}")

    try:
        context.step(call, name="call", config=StepConfig(retry_strategy=strategy))
    except StepError as e:
        return {"error_type": e.error_type, "message": e.message}
    return {"error_type": None, "message": None}
