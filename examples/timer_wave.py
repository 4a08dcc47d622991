"""The timer wave: one keeper branch keeps the map running while N branches poll every 2 s.

    durable run examples.timer_wave:handler --input '{"branches": 300, "keep": 18}'

Every poll resumes in-process: the timers of one tick reach the map as one
ResumeWave, and one state refresh serves the whole wave.  It finishes in
about the keeper's 18 s, in a single invocation.
"""

from __future__ import annotations

import threading
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, JitterStrategy
from durable.waits import WaitForConditionConfig, WaitStrategyConfig, create_wait_strategy


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, int]:
    polls: Any = create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda state: state < 8,
            initial_delay=Duration.from_seconds(2),
            backoff_rate=1.0,
            jitter_strategy=JitterStrategy.NONE,
        )
    )

    def branch(item_context: DurableContext, item: int, index: int, items: Any) -> Any:
        if index == 0:
            keep = event.get("keep", 18)
            return item_context.step(lambda _: threading.Event().wait(keep) or "kept", name="keeper")
        config = WaitForConditionConfig(polls, initial_state=0)
        return item_context.wait_for_condition(lambda state, _check: state + 1, config, name="poll")

    batch = context.map(list(range(event.get("branches", 300) + 1)), branch, name="wave")
    return {"succeeded": batch.success_count, "failed": batch.failure_count}
