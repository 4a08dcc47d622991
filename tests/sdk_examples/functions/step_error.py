"""A step that fails for good, and a handler that lets the StepError escape."""

from typing import Any

from durable.config import StepConfig
from durable.context import DurableContext, StepContext
from durable.execution import durable_execution
from durable.retries import RetryPresets


class PaymentDeclinedError(Exception):
    """The card issuer said no."""


@durable_execution
def handler(event: Any, context: DurableContext) -> str:
    context.step(lambda _: "reserved", name="reserve_stock")

    def charge(_step_context: StepContext) -> str:
        raise PaymentDeclinedError(f"card {event['card']} declined")

    context.step(charge, name="charge_card", config=StepConfig(retry_strategy=RetryPresets.none()))
    return "unreachable"
