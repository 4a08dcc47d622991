"""A submitter that always fails: CallbackSubmitterError."""

from typing import Any

from durable.config import WaitForCallbackConfig
from durable.context import DurableContext
from durable.exceptions import (
    CallbackError,
    CallbackSubmitterError,
    StepError,
)
from durable.execution import durable_execution
from durable.retries import RetryPresets
from durable.types import WaitForCallbackContext


def broken_submitter(callback_id: str, context: WaitForCallbackContext) -> None:
    raise PermissionError("not allowed to submit")


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    event = event or {}
    config = WaitForCallbackConfig(retry_strategy=RetryPresets.none())
    if not event.get("catch", True):
        return context.wait_for_callback(broken_submitter, name="submit", config=config)
    try:
        return context.wait_for_callback(broken_submitter, name="submit", config=config)
    except CallbackSubmitterError as e:
        return {
            "is_callback_error": isinstance(e, CallbackError),
            "message": e.message,
            "error_type": e.error_type,
            "cause": type(e.__cause__).__name__,
            "cause_is_step_error": isinstance(e.__cause__, StepError),
        }
