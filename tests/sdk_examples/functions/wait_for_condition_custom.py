"""A hand-written wait strategy returning WaitForConditionDecision."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.types import WaitForConditionCheckContext
from durable.waits import (
    WaitForConditionConfig,
    WaitForConditionDecision,
)


def every_ten_seconds(state: int, attempts_made: int) -> WaitForConditionDecision:
    if state >= 5:
        return WaitForConditionDecision.stop_polling()
    return WaitForConditionDecision.continue_waiting(Duration.from_seconds(10))


@durable_execution
def handler(_event: Any, context: DurableContext) -> int:
    def increment(state: int, _check_context: WaitForConditionCheckContext) -> int:
        return state + 2

    return context.wait_for_condition(
        increment,
        config=WaitForConditionConfig(wait_strategy=every_ten_seconds, initial_state=0),
        name="count_to_five",
    )
