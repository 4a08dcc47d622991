"""with_retry: retry a whole block of durable operations, with named backoff waits."""

from typing import Any

from durable.config import Duration, JitterStrategy
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.retries import (
    RetryStrategyConfig,
    WithRetryConfig,
    create_retry_strategy,
    with_retry,
)


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    fail_until = event.get("fail_until", 3)

    def book_trip(ctx: DurableContext, attempt: int) -> dict:
        flight = ctx.step(lambda _: f"flight-{attempt}", name=f"book_flight_{attempt}")
        if attempt < fail_until:
            raise RuntimeError(f"hotel full on attempt {attempt}")
        hotel = ctx.step(lambda _: f"hotel-{attempt}", name=f"book_hotel_{attempt}")
        return {"flight": flight, "hotel": hotel, "attempt": attempt}

    config = WithRetryConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=event.get("max_attempts", 5),
                initial_delay=Duration.from_minutes(1),
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
        wrap_with_run_in_child_context=event.get("wrap", True),
    )
    return with_retry(context, book_trip, config, name="book_trip")
