"""An external system fails the callback: CallbackExternalError."""

from typing import Any

from durable.context import DurableContext
from durable.exceptions import CallbackExternalError
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    event = event or {}
    callback = context.create_callback(name="payment_callback")
    if not event.get("catch", True):
        return callback.result()
    try:
        return callback.result()
    except CallbackExternalError as e:
        return {
            "failed": True,
            "message": e.message,
            "error_type": e.error_type,
            "data": e.data,
        }
