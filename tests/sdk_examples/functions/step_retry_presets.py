"""Retry presets: pick a RetryPresets strategy by name from the event.

The step fails until its attempt number reaches ``succeed_on`` (use a large
number for a step that never succeeds).
"""

from typing import Any

from durable.config import Duration, StepConfig
from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
)
from durable.execution import durable_execution
from durable.retries import RetryPresets

PRESETS = {
    "none": RetryPresets.none,
    "default": RetryPresets.default,
    "transient": RetryPresets.transient,
    "resource_availability": RetryPresets.resource_availability,
    "critical": RetryPresets.critical,
    "linear": RetryPresets.linear,
    "fixed": RetryPresets.fixed,
}


@durable_step
def unreliable(step_context: StepContext, succeed_on: int) -> int:
    if step_context.attempt < succeed_on:
        msg = f"transient failure on attempt {step_context.attempt}"
        raise RuntimeError(msg)
    return step_context.attempt


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    preset = event["preset"]
    if preset == "fixed_2s":
        strategy = RetryPresets.fixed(Duration.from_seconds(2))
    else:
        strategy = PRESETS[preset]()
    attempts = context.step(
        unreliable(event["succeed_on"]),
        name=f"{preset}_step",
        config=StepConfig(retry_strategy=strategy),
    )
    return {"preset": preset, "attempts": attempts}
