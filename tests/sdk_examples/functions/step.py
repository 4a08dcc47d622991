"""A single named step."""

from typing import Any

from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
)
from durable.execution import durable_execution


@durable_step
def add_numbers(_step_context: StepContext, a: int, b: int) -> int:
    return a + b


@durable_execution
def handler(_event: Any, context: DurableContext) -> int:
    """Run one step; its name comes from the decorated function."""
    return context.step(add_numbers(5, 3))
