"""A failure inside a child context surfaces as ChildContextError."""

from typing import Any

from durable.context import DurableContext
from durable.exceptions import ChildContextError
from durable.execution import durable_execution


def risky_block(child: DurableContext) -> str:
    child.step(lambda _: "ok", name="safe_step")
    raise ValueError("block failed")


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    event = event or {}
    if not event.get("catch", True):
        return context.run_in_child_context(risky_block, name="risky_block")
    try:
        return context.run_in_child_context(risky_block, name="risky_block")
    except ChildContextError as e:
        return {
            "message": e.message,
            "error_type": e.error_type,
            "cause": type(e.__cause__).__name__,
        }
