"""context.map over a list; each item runs in its own child context."""

from collections.abc import Sequence
from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


def square(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
    return ctx.step(lambda _: item * item, name=f"square_{index}")


@durable_execution
def handler(_event: Any, context: DurableContext) -> list[int]:
    result = context.map([1, 2, 3, 4, 5], square, name="square_numbers")
    return result.get_results()
