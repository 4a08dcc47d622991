"""MapConfig(max_concurrency=...) bounds how many items run at once."""

import threading
from collections.abc import Sequence
from typing import Any

from durable.config import MapConfig
from durable.context import DurableContext
from durable.execution import durable_execution

_lock = threading.Lock()
_running = 0
PEAK: list[int] = []


def process(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    def work(_):
        global _running
        with _lock:
            _running += 1
            PEAK.append(_running)
        try:
            threading.Event().wait(0.05)
            return item.upper()
        finally:
            with _lock:
                _running -= 1

    return ctx.step(work, name=f"process_{item}")


@durable_execution
def handler(event: Any, context: DurableContext) -> list[str]:
    result = context.map(
        event["items"],
        process,
        name="bounded_map",
        config=MapConfig(max_concurrency=2),
    )
    return result.get_results()
