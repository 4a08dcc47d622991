"""Two callbacks created before either result is awaited."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    manager = context.create_callback(name="manager_approval")
    finance = context.create_callback(name="finance_approval")
    return {"manager": manager.result(), "finance": finance.result()}
