"""A step returning a value the default serdes cannot encode."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


class Opaque:
    pass


@durable_execution
def handler(_event: Any, context: DurableContext) -> Any:
    context.step(lambda _: Opaque(), name="opaque")
    return "unreachable"
