"""wait_for_condition that never succeeds: WaitForConditionError after max_attempts."""

from typing import Any

from durable.config import Duration, JitterStrategy
from durable.context import DurableContext
from durable.exceptions import WaitForConditionError
from durable.execution import durable_execution
from durable.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    event = event or {}
    config = WaitForConditionConfig(
        wait_strategy=create_wait_strategy(
            WaitStrategyConfig(
                should_continue_polling=lambda state: state != "READY",
                max_attempts=3,
                initial_delay=Duration.from_seconds(5),
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
        initial_state="PENDING",
    )
    if event.get("catch"):
        try:
            context.wait_for_condition(lambda state, _: "PENDING", config=config, name="never_ready")
        except WaitForConditionError as e:
            return {"caught": type(e).__name__, "message": e.message, "error_type": e.error_type}
    return context.wait_for_condition(lambda state, _: "PENDING", config=config, name="never_ready")
