"""An exception raised by the handler itself fails the execution."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


class OrderRejectedError(Exception):
    """A business-rule failure."""


@durable_execution
def handler(event: Any, context: DurableContext) -> str:
    event = event or {}
    context.step(lambda _: "validated", name="validate")
    if event.get("kind") == "custom":
        raise OrderRejectedError(f"order {event['order_id']} rejected")
    raise ValueError("something went wrong")
