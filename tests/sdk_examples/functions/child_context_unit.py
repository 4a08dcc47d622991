"""A reusable @durable_with_child_context block, tested on its own with DurableChildContextTestRunner."""

from durable.config import Duration
from durable.context import (
    DurableContext,
    durable_with_child_context,
)


@durable_with_child_context
def reserve_and_confirm(ctx: DurableContext, sku: str, quantity: int) -> dict:
    reservation = ctx.step(lambda _: f"res-{sku}-{quantity}", name="reserve")
    ctx.wait(Duration.from_minutes(15), name="hold")
    confirmed = ctx.step(lambda _: True, name="confirm")
    return {"reservation": reservation, "confirmed": confirmed}
