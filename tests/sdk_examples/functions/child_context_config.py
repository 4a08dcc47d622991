"""ChildConfig: a custom serdes for the child result, and a virtual (non-checkpointed) child."""

import json
from typing import Any

from durable.config import ChildConfig
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.serdes import SerDes, SerDesContext


class UpperJsonSerDes(SerDes[dict]):
    """Stores keys upper-cased; restores them lower-cased."""

    def serialize(self, value: dict, serdes_context: SerDesContext) -> str:
        return json.dumps({k.upper(): v for k, v in value.items()}, sort_keys=True)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> dict:
        return {k.lower(): v for k, v in json.loads(data).items()}


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    summary = context.run_in_child_context(
        lambda child: {"count": child.step(lambda _: 3, name="count_items"), "ok": True},
        name="summarize",
        config=ChildConfig(serdes=UpperJsonSerDes()),
    )
    virtual = context.run_in_child_context(
        lambda child: child.step(lambda _: "inside virtual", name="virtual_step"),
        name="virtual_group",
        config=ChildConfig(is_virtual=True),
    )
    return {"summary": summary, "virtual": virtual}
