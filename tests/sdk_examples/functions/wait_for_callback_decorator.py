"""@durable_wait_for_callback binds extra arguments to the submitter; unnamed wait_for_callback."""

from typing import Any

from durable.context import (
    DurableContext,
    durable_wait_for_callback,
)
from durable.execution import durable_execution
from durable.types import WaitForCallbackContext

TICKETS: list[dict] = []


@durable_wait_for_callback
def open_ticket(callback_id: str, context: WaitForCallbackContext, queue: str, priority: int) -> None:
    TICKETS.append({"callback_id": callback_id, "queue": queue, "priority": priority})


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    # No name: the operation takes the decorated function's name.
    answer = context.wait_for_callback(open_ticket(event["queue"], priority=2))
    return {"answer": answer}
