"""A hand-written retry strategy function returning RetryDecision."""

from typing import Any

from durable.config import Duration, StepConfig
from durable.context import DurableContext, StepContext
from durable.execution import durable_execution
from durable.retries import RetryDecision


def retry_on_value_errors(error: Exception, attempts_made: int) -> RetryDecision:
    """Retry ValueErrors up to 3 attempts, waiting attempts_made minutes."""
    if isinstance(error, ValueError) and attempts_made < 3:
        return RetryDecision.retry(Duration.from_minutes(attempts_made))
    return RetryDecision.no_retry()


@durable_execution
def handler(_event: Any, context: DurableContext) -> str:
    def parse(step_context: StepContext) -> str:
        if step_context.attempt < 3:
            raise ValueError(f"bad payload #{step_context.attempt}")
        return "parsed"

    return context.step(
        parse, name="parse", config=StepConfig(retry_strategy=retry_on_value_errors)
    )
