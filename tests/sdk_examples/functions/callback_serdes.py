"""A callback whose payload is decoded with a serdes (JSON) instead of passed through raw."""

import json
from typing import Any

from durable.config import CallbackConfig
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.serdes import SerDes, SerDesContext


class JsonPayloadSerDes(SerDes[dict]):
    def serialize(self, value: dict, serdes_context: SerDesContext) -> str:
        return json.dumps(value)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> dict:
        return json.loads(data)


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    callback = context.create_callback(
        name="order_update", config=CallbackConfig(serdes=JsonPayloadSerDes())
    )
    update = callback.result()
    return {"status": update["status"], "items": len(update["items"])}
