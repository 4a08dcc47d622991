"""Reading the input event: the runner passes the execution input as the event."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> dict[str, Any]:
    """Greet the caller named in the event, using a step to build the message."""
    name = event.get("name", "World") if isinstance(event, dict) else "World"
    greeting = context.step(lambda _: f"Hello {name}!", name="greet")
    return {"greeting": greeting, "input": event}
