"""StepContext: the attempt number and the step-scoped logger."""

from typing import Any

from durable.config import (
    Duration,
    JitterStrategy,
    StepConfig,
)
from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
)
from durable.execution import durable_execution
from durable.retries import (
    RetryStrategyConfig,
    create_retry_strategy,
)


@durable_step
def flaky_call(step_context: StepContext, succeed_on: int) -> dict:
    step_context.logger.info("flaky_call attempt %d", step_context.attempt)
    if step_context.attempt < succeed_on:
        msg = f"attempt {step_context.attempt} failed"
        raise ConnectionError(msg)
    return {"attempt": step_context.attempt}


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    config = StepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=5,
                initial_delay=Duration.from_seconds(2),
                jitter_strategy=JitterStrategy.NONE,
            )
        )
    )
    return context.step(flaky_call(event.get("succeed_on", 3)), config=config)
