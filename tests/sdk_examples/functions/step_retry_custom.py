"""A custom RetryStrategyConfig: attempts, exponential backoff, no jitter, message filters."""

import re
from typing import Any

from durable.config import (
    Duration,
    JitterStrategy,
    StepConfig,
)
from durable.context import DurableContext, StepContext
from durable.execution import durable_execution
from durable.retries import (
    RetryStrategyConfig,
    create_retry_strategy,
)

RETRY_CONFIG = RetryStrategyConfig(
    max_attempts=4,
    initial_delay=Duration.from_seconds(10),
    max_delay=Duration.from_seconds(30),
    backoff_rate=3,
    jitter_strategy=JitterStrategy.NONE,
    retryable_errors=["throttled", re.compile(r"^timeout after \d+ms$")],
)


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    messages: list[str] = event["messages"]

    def call_service(step_context: StepContext) -> str:
        index = step_context.attempt - 1
        if index < len(messages):
            raise RuntimeError(messages[index])
        return f"ok after {step_context.attempt} attempts"

    return context.step(
        call_service,
        name="call_service",
        config=StepConfig(retry_strategy=create_retry_strategy(RETRY_CONFIG)),
    )
