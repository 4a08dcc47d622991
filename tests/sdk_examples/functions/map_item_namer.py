"""MapConfig.item_namer gives each iteration a readable name."""

from collections.abc import Sequence
from typing import Any

from durable.config import MapConfig
from durable.context import DurableContext
from durable.execution import durable_execution


def ship(ctx: DurableContext, order: dict, index: int, orders: Sequence[dict]) -> str:
    return ctx.step(lambda _: f"shipped {order['id']}", name="ship")


@durable_execution
def handler(event: Any, context: DurableContext) -> list[str]:
    result = context.map(
        event["orders"],
        ship,
        name="ship_orders",
        config=MapConfig(item_namer=lambda order, index: f"order-{order['id']}"),
    )
    return result.get_results()
