"""@durable_with_child_context with arguments, nested two levels deep."""

from typing import Any

from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
    durable_with_child_context,
)
from durable.execution import durable_execution


@durable_step
def double(_step_context: StepContext, value: int) -> int:
    return value * 2


@durable_with_child_context
def inner_block(ctx: DurableContext, value: int) -> int:
    return ctx.step(double(value))


@durable_with_child_context
def outer_block(ctx: DurableContext, value: int) -> int:
    first = ctx.step(double(value), name="outer_double")
    return ctx.run_in_child_context(inner_block(first))


@durable_execution
def handler(event: Any, context: DurableContext) -> int:
    return context.run_in_child_context(outer_block(event["value"]))
