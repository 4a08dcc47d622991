"""Poll until a condition holds, with create_wait_strategy and WaitStrategyConfig."""

from typing import Any

from durable.config import Duration, JitterStrategy
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.types import WaitForConditionCheckContext
from durable.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    target = event.get("target", 3)

    def check_job(state: dict, check_context: WaitForConditionCheckContext) -> dict:
        check_context.logger.info("checking job, attempt %d", check_context.attempt)
        return {"polls": state["polls"] + 1, "done": state["polls"] + 1 >= target}

    config = WaitForConditionConfig(
        wait_strategy=create_wait_strategy(
            WaitStrategyConfig(
                should_continue_polling=lambda state: not state["done"],
                max_attempts=10,
                initial_delay=Duration.from_seconds(30),
                max_delay=Duration.from_minutes(2),
                backoff_rate=2,
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
        initial_state={"polls": 0, "done": False},
    )
    return context.wait_for_condition(check_job, config=config, name="wait_for_job")
