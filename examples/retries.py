"""A flaky call retried on durable timers: the invocation suspends between attempts.

    durable run examples.retries:handler --input '{"fail_times": 2}'
"""

from __future__ import annotations

from typing import Any

from durable import DurableContext, StepContext, durable_execution
from durable.config import Duration, JitterStrategy, StepConfig
from durable.retries import RetryStrategyConfig, create_retry_strategy


class ServiceBusyError(Exception):
    pass


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> str:
    def call_service(step_context: StepContext) -> str:
        if step_context.attempt <= event.get("fail_times", 2):
            raise ServiceBusyError(f"busy on attempt {step_context.attempt}")
        return f"answered on attempt {step_context.attempt}"

    retry = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=5,
            initial_delay=Duration.from_seconds(1),
            backoff_rate=2,
            jitter_strategy=JitterStrategy.NONE,
            retryable_error_types=[ServiceBusyError],
        )
    )
    return context.step(call_service, name="call-service", config=StepConfig(retry_strategy=retry))
