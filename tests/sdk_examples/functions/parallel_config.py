"""ParallelConfig: max_concurrency and completion rules over branches that may fail."""

from typing import Any

from durable.config import (
    CompletionConfig,
    ParallelConfig,
    StepConfig,
)
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.retries import RetryPresets


def make_branch(spec: str):
    def branch(ctx: DurableContext) -> str:
        def run(_):
            if spec.startswith("fail"):
                raise RuntimeError(f"branch {spec} failed")
            return spec

        return ctx.step(
            run, name=f"run_{spec}", config=StepConfig(retry_strategy=RetryPresets.none())
        )

    return branch


MODES = {
    "all_successful": CompletionConfig.all_successful(),
    "all_completed": CompletionConfig.all_completed(),
    "first_successful": CompletionConfig.first_successful(),
    "min_two": CompletionConfig(min_successful=2),
    "tolerate_one": CompletionConfig(tolerated_failure_count=1),
}


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    result = context.parallel(
        [make_branch(spec) for spec in event["branches"]],
        name="branches",
        config=ParallelConfig(max_concurrency=1, completion_config=MODES[event["mode"]]),
    )
    return {
        "results": result.get_results(),
        "errors": [e.message for e in result.get_errors()],
        "completion_reason": result.completion_reason.value,
        "success_count": result.success_count,
        "failure_count": result.failure_count,
        "started_count": result.started_count,
        "total_count": result.total_count,
    }
