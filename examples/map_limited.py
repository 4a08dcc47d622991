"""A map with max_concurrency: at most 5 items in flight, waiting ones included.

    durable run examples.map_limited:handler --input 20
"""

from __future__ import annotations

from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, MapConfig


@durable_execution
def handler(count: int, context: DurableContext) -> dict[str, Any]:
    def process(item_context: DurableContext, item: int, index: int, items: Any) -> int:
        item_context.wait(Duration.from_seconds(1), name="cool-down")
        return item_context.step(lambda _: item * item, name="square")

    batch = context.map(list(range(count)), process, name="squares", config=MapConfig(max_concurrency=5))
    return {"squares": batch.get_results(), "completion": batch.completion_reason.value}
