"""A callback with a short timeout; the handler catches CallbackTimeoutError."""

from typing import Any

from durable.config import CallbackConfig, Duration
from durable.context import DurableContext
from durable.exceptions import CallbackError, CallbackTimeoutError
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    callback = context.create_callback(
        name="short_callback",
        config=CallbackConfig(timeout=Duration.from_seconds(2)),
    )
    if not event.get("catch", True):
        return {"result": callback.result()}
    try:
        return {"result": callback.result()}
    except CallbackTimeoutError as e:
        return {
            "timed_out": True,
            "is_callback_error": isinstance(e, CallbackError),
            "message": e.message,
            "error_type": e.error_type,
        }
