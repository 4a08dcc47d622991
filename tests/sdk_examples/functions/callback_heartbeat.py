"""A long callback kept alive by heartbeats (CallbackConfig.heartbeat_timeout)."""

from typing import Any

from durable.config import CallbackConfig, Duration
from durable.context import DurableContext
from durable.exceptions import CallbackTimeoutError
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    callback = context.create_callback(
        name="long_running_job",
        config=CallbackConfig(
            timeout=Duration.from_minutes(10),
            heartbeat_timeout=Duration.from_seconds(2),
        ),
    )
    try:
        return {"outcome": "completed", "payload": callback.result()}
    except CallbackTimeoutError as e:
        return {"outcome": "heartbeat_missed", "message": e.message}
