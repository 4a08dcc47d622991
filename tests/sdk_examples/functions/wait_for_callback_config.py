"""WaitForCallbackConfig: a timeout for the callback and a retry strategy for the submitter."""

from typing import Any

from durable.config import (
    Duration,
    JitterStrategy,
    WaitForCallbackConfig,
)
from durable.context import DurableContext
from durable.exceptions import CallbackTimeoutError
from durable.execution import durable_execution
from durable.retries import (
    RetryStrategyConfig,
    create_retry_strategy,
)
from durable.types import WaitForCallbackContext

ATTEMPTS: list[str] = []


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    def flaky_submitter(callback_id: str, _context: WaitForCallbackContext) -> None:
        ATTEMPTS.append(callback_id)
        if len(ATTEMPTS) < event.get("submit_failures", 0) + 1:
            raise ConnectionError("queue unavailable")

    config = WaitForCallbackConfig(
        timeout=Duration.from_seconds(event.get("timeout", 60)),
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=3,
                initial_delay=Duration.from_seconds(5),
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
    )
    try:
        value = context.wait_for_callback(flaky_submitter, name="review", config=config)
    except CallbackTimeoutError as e:
        return {"status": "timed_out", "message": e.message}
    return {"status": "done", "value": value}
