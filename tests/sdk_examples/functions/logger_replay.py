"""Replay-aware logging: context.logger skips replayed lines; with_is_replaying(...) opts out."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> bool:
    every_invocation = context.logger.with_is_replaying(lambda: False)
    every_invocation.info("handler invoked (replaying=%s)", context.is_replaying())
    context.logger.info("first pass only")
    context.wait(Duration.from_minutes(1), name="pause")
    context.logger.info("after the pause")
    return context.is_replaying()
