"""Handlers for the wait suite (requirements 2-1 .. 2-5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration


def h_2_1() -> Any:
    """2-1: one 2 s wait."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> None:
        context.wait(Duration.from_seconds(2))

    return handler


def h_2_2() -> Any:
    """2-2: one named 2 s wait."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> None:
        context.wait(Duration.from_seconds(2), name="custom_wait_name")

    return handler


def h_2_3() -> Any:
    """2-3: two sequential named 2 s waits, each suspending the execution."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, int]:
        context.wait(Duration.from_seconds(2), name="wait-1")
        context.wait(Duration.from_seconds(2), name="wait-2")
        return {"completedWaits": 2}

    return handler


def h_2_4() -> Any:
    """2-4: a one-minute wait, checkpointed as 60 s."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> None:
        context.wait(Duration.from_minutes(1))

    return handler


def h_2_5() -> Any:
    """2-5: a one-hour wait, checkpointed as 3600 s."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> None:
        context.wait(Duration.from_hours(1))

    return handler


HANDLERS: dict[str, Callable[[], Any]] = {
    "2-1": h_2_1,
    "2-2": h_2_2,
    "2-3": h_2_3,
    "2-4": h_2_4,
    "2-5": h_2_5,
}
