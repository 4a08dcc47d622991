"""run_in_child_context groups operations under one CONTEXT operation."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution


def process_order(child: DurableContext) -> dict:
    validated = child.step(lambda _: True, name="validate")
    child.wait(Duration.from_seconds(10), name="settle")
    total = child.step(lambda _: 42, name="total")
    return {"validated": validated, "total": total}


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    order = context.run_in_child_context(process_order, name="process_order")
    receipt = context.step(lambda _: f"receipt for {order['total']}", name="receipt")
    return {"order": order, "receipt": receipt}
