"""A durable wait: no process sleeps; the engine's alarm wakes the execution.

    durable run examples.wait:handler --input 3
"""

from __future__ import annotations

from durable import DurableContext, durable_execution
from durable.config import Duration


@durable_execution
def handler(seconds: int, context: DurableContext) -> str:
    started = context.step(lambda _: "started", name="start")
    context.wait(Duration.from_seconds(seconds), name="pause")
    return context.step(lambda _: f"{started}, then waited {seconds} s", name="finish")
