"""A single named wait."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> str:
    context.wait(Duration.from_seconds(5), name="wait_5_seconds")
    return "Wait completed"
