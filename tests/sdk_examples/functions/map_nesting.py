"""NestingType.FLAT runs map iterations in virtual contexts (no per-item CONTEXT operation)."""

from collections.abc import Sequence
from typing import Any

from durable.config import MapConfig, NestingType
from durable.context import DurableContext
from durable.execution import durable_execution


def label(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    return ctx.step(lambda _: f"{index}:{item}", name=f"label_{item}")


@durable_execution
def handler(event: Any, context: DurableContext) -> list[str]:
    nesting = NestingType(event["nesting"])
    result = context.map(
        ["a", "b", "c"],
        label,
        name="labels",
        config=MapConfig(nesting_type=nesting),
    )
    return result.get_results()
