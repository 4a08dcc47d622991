"""PassThroughSerDes and JsonSerDes on steps: store strings as they are, or as plain JSON."""

from typing import Any

from durable.config import StepConfig
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.serdes import JsonSerDes, PassThroughSerDes


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    raw = context.step(
        lambda _: "already-serialized <xml/>",
        name="raw_text",
        config=StepConfig(serdes=PassThroughSerDes()),
    )
    as_json = context.step(
        lambda _: {"a": [1, 2], "b": None},
        name="plain_json",
        config=StepConfig(serdes=JsonSerDes()),
    )
    default = context.step(lambda _: {"a": [1, 2], "b": None}, name="default_serdes")
    return {"raw": raw, "as_json": as_json, "default": default}
