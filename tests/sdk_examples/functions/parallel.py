"""context.parallel over plain functions; branches get default names."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution


def fetch_inventory(ctx: DurableContext) -> int:
    return ctx.step(lambda _: 7, name="inventory")


def fetch_price(ctx: DurableContext) -> float:
    ctx.wait(Duration.from_seconds(30), name="rate_limit")
    return ctx.step(lambda _: 19.99, name="price")


def fetch_reviews(ctx: DurableContext) -> list[str]:
    return ctx.step(lambda _: ["great", "ok"], name="reviews")


@durable_execution
def handler(_event: Any, context: DurableContext) -> list[Any]:
    result = context.parallel(
        [fetch_inventory, fetch_price, fetch_reviews], name="product_details"
    )
    return result.get_results()
