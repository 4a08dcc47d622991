"""Steps around a long wait: the steps before the wait are not re-run on replay."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution

CALLS: list[str] = []


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    def before(_):
        CALLS.append("before")
        return "started"

    def after(_):
        CALLS.append("after")
        return "finished"

    first = context.step(before, name="before_wait")
    context.wait(Duration.from_hours(2), name="cool_down")
    second = context.step(after, name="after_wait")
    return {"first": first, "second": second}
