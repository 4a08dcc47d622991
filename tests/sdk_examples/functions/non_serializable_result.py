"""A handler result that json.dumps cannot encode fails the execution."""

import datetime
from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> Any:
    event = event or {}
    if event.get("stringify"):
        return {"at": datetime.datetime(2024, 1, 1).isoformat()}
    return {"at": datetime.datetime(2024, 1, 1)}
