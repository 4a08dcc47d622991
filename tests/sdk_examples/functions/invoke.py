"""Chained invoke: call another durable function and wait for its result.

The test registers the target with the runner (`functions=`); the target is
named by INVOKE_TARGET_FUNCTION, "hello-world" by default.
"""

import os
from typing import Any

from durable.config import InvokeConfig
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    target = os.environ.get("INVOKE_TARGET_FUNCTION", "hello-world")
    greeting = context.invoke(target, {"name": event.get("name", "World")}, name="call_hello", config=InvokeConfig())
    return {"greeting": greeting}
