"""context.logger: %-style arguments, extra fields, and logs that are not repeated on replay."""

from typing import Any

from durable.config import Duration
from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
)
from durable.execution import durable_execution


@durable_step
def charge(step_context: StepContext, amount: int) -> str:
    step_context.logger.info("charging %d cents", amount, extra={"currency": "USD"})
    return "charged"


@durable_execution
def handler(event: Any, context: DurableContext) -> str:
    context.logger.info("Processing order %s", event["order_id"], extra={"order_id": event["order_id"]})
    context.step(charge(event["amount"]))
    context.wait(Duration.from_seconds(5), name="pause")
    # Logged once: the first invocation suspends at the wait before reaching this line.
    context.logger.warning("Order %s resumed after pause", event["order_id"])

    def in_child(child: DurableContext) -> str:
        child.logger.info("inside child context")
        return "child done"

    context.run_in_child_context(in_child, name="child_logging")
    context.logger.debug("debug details %s", {"k": "v"})
    return "done"
