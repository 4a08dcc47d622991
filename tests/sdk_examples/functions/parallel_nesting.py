"""ParallelConfig(nesting_type=FLAT): branches without their own CONTEXT operations."""

from typing import Any

from durable.config import NestingType, ParallelConfig
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> list[str]:
    result = context.parallel(
        [
            lambda ctx: ctx.step(lambda _: "left", name="left_step"),
            lambda ctx: ctx.step(lambda _: "right", name="right_step"),
        ],
        name="two_sides",
        config=ParallelConfig(nesting_type=NestingType(event["nesting"])),
    )
    return result.get_results()
