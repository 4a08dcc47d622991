"""MapConfig completion rules: all_successful, all_completed, first_successful, tolerances."""

from collections.abc import Sequence
from typing import Any

from durable.config import CompletionConfig, MapConfig
from durable.context import DurableContext
from durable.execution import durable_execution

COMPLETION_CONFIGS = {
    "default": None,
    "all_successful": CompletionConfig.all_successful(),
    "all_completed": CompletionConfig.all_completed(),
    "first_successful": CompletionConfig.first_successful(),
    "tolerate_two": CompletionConfig(tolerated_failure_count=2),
    "tolerate_half": CompletionConfig(tolerated_failure_percentage=50),
    "min_two": CompletionConfig(min_successful=2),
}


def check(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
    if item < 0:
        msg = f"negative item {item}"
        raise ValueError(msg)
    return item * 10


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    completion = COMPLETION_CONFIGS[event["mode"]]
    config = MapConfig(max_concurrency=1) if completion is None else MapConfig(
        max_concurrency=1, completion_config=completion
    )
    result = context.map(event["items"], check, name="checks", config=config)
    return {
        "results": result.get_results(),
        "errors": [e.message for e in result.get_errors()],
        "success_count": result.success_count,
        "failure_count": result.failure_count,
        "started_count": result.started_count,
        "total_count": result.total_count,
        "completion_reason": result.completion_reason.value,
        "status": result.status.value,
        "has_failure": result.has_failure,
    }
