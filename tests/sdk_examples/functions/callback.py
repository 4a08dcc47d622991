"""create_callback and callback.result(): wait for an external approval."""

from typing import Any

from durable.config import CallbackConfig, Duration
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    callback = context.create_callback(
        name="approval_callback",
        config=CallbackConfig(timeout=Duration.from_minutes(5)),
    )
    # Hand the id to an external system here. The execution suspends in result().
    context.step(lambda _: callback.callback_id, name="notify_approver")
    approval = callback.result()
    return {"callback_id": callback.callback_id, "approval": approval}
