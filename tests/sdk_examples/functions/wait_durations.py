"""Every way to build a Duration, with waits long enough that only time skipping makes them quick."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    durations = {
        "seconds": Duration.from_seconds(30),
        "minutes": Duration.from_minutes(2.5),
        "hours": Duration.from_hours(1),
        "days": Duration.from_days(1),
        "raw": Duration(seconds=45),
    }
    for label, duration in durations.items():
        context.wait(duration=duration, name=f"wait_{label}")
    # An unnamed wait.
    context.wait(Duration.from_seconds(1))
    return {label: d.to_seconds() for label, d in durations.items()}
