"""Hello world: the smallest durable function."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, _context: DurableContext) -> str:
    """Return a greeting without doing any durable operation."""
    return "Hello World!"
