"""wait_for_callback with a submitter function that hands the id to an external system."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution
from durable.types import WaitForCallbackContext

SUBMITTED: list[str] = []


def submit_to_external_system(callback_id: str, context: WaitForCallbackContext) -> None:
    context.logger.info("Submitting callback %s", callback_id)
    SUBMITTED.append(callback_id)


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    result = context.wait_for_callback(submit_to_external_system, name="external_approval")
    return {"approval": result}
