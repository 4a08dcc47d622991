"""A linear retry strategy built from LinearRetryStrategyConfig."""

from typing import Any

from durable.config import (
    Duration,
    JitterStrategy,
    StepConfig,
)
from durable.context import DurableContext, StepContext
from durable.execution import durable_execution
from durable.retries import (
    LinearRetryStrategyConfig,
    create_linear_retry_strategy,
)


@durable_execution
def handler(_event: Any, context: DurableContext) -> int:
    strategy = create_linear_retry_strategy(
        LinearRetryStrategyConfig(
            max_attempts=4,
            initial_delay=Duration.from_seconds(3),
            increment=Duration.from_seconds(2),
            jitter_strategy=JitterStrategy.NONE,
        )
    )

    def poll(step_context: StepContext) -> int:
        if step_context.attempt < 4:
            raise TimeoutError("not ready")
        return step_context.attempt

    return context.step(poll, name="poll", config=StepConfig(retry_strategy=strategy))
