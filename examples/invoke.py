"""Chained invoke: one durable function calls another and waits for its result.

    durable run examples.invoke:handler --input '{"sku": "chair", "quantity": 4}'

`context.invoke` starts `examples.invoke:price` as its own durable execution,
with its own history, and suspends the caller until it ends.  On replay the
recorded result comes back; the price is never computed twice.
"""

from __future__ import annotations

from typing import Any

from durable import DurableContext, durable_execution

PRICES = {"chair": 39.5, "desk": 210.0}


@durable_execution
def price(event: dict[str, Any], context: DurableContext) -> float:
    unit = context.step(lambda _: PRICES[event["sku"]], name="look-up")
    return round(unit * event["quantity"], 2)


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    total: float = context.invoke("examples.invoke:price", event, name="price")
    receipt = context.step(lambda _: f"{event['quantity']} x {event['sku']}: {total}", name="receipt")
    return {"total": total, "receipt": receipt}
