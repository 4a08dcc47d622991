"""The demo: an order that is validated, charged (with a flaky payment service), cooled off and shipped.

    durable run examples.order:handler --input '{"order_id": "A-1001", "items": 3}'

Kill it during the cool-off wait and run `durable resume`: it continues where
it stopped, without charging twice.
"""

from __future__ import annotations

from typing import Any

from durable import DurableContext, StepContext, durable_execution, durable_step, durable_with_child_context
from durable.config import Duration, StepConfig
from durable.retries import RetryStrategyConfig, create_retry_strategy


class PaymentUnavailableError(Exception):
    """The payment service's way of saying 'try again'."""


@durable_step
def validate(step_context: StepContext, order: dict[str, Any]) -> dict[str, Any]:
    if order.get("items", 0) < 1:
        raise ValueError("an order needs at least one item")
    step_context.logger.info("order %s is valid", order["order_id"])
    return {"order_id": order["order_id"], "total": 12.5 * order["items"]}


def charge(step_context: StepContext) -> str:
    if step_context.attempt == 1:
        raise PaymentUnavailableError("payment service busy")
    return "receipt-7731"


@durable_with_child_context
def ship(context: DurableContext, order_id: str) -> str:
    label = context.step(lambda _: f"label-{order_id}", name="print-label")
    return context.step(lambda _: f"shipped {order_id} with {label}", name="hand-over")


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    order = context.step(validate(event))
    retry = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1)))
    receipt = context.step(charge, name="charge", config=StepConfig(retry_strategy=retry))
    context.logger.info("charged %s for %s", order["order_id"], order["total"])
    context.wait(Duration.from_seconds(2), name="cool-off")
    shipment = context.run_in_child_context(ship(order["order_id"]))
    return {"order": order, "receipt": receipt, "shipment": shipment}
