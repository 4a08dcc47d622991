"""Wait strategies with FULL and HALF jitter still converge; the check sees its attempt number."""

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
    jitter = JitterStrategy(event["jitter"])

    def check(state: list, check_context: WaitForConditionCheckContext) -> list:
        return [*state, check_context.attempt]

    attempts = context.wait_for_condition(
        check,
        config=WaitForConditionConfig(
            wait_strategy=create_wait_strategy(
                WaitStrategyConfig(
                    should_continue_polling=lambda state: len(state) < 4,
                    initial_delay=Duration.from_seconds(20),
                    jitter_strategy=jitter,
                )
            ),
            initial_state=[],
        ),
        name=f"poll_{jitter.value.lower()}",
    )
    return {"jitter": jitter.value, "attempts": attempts}
