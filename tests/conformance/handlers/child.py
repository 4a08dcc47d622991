"""Handlers for the child-context suite (requirements 3-1 .. 3-18).

Child contexts are `@durable_with_child_context` functions so they carry a
name (the function's), which the requirements bind as `${NAME1}`.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from durable import (
    ChildContextError,
    DurableContext,
    StepContext,
    durable_execution,
    durable_step,
    durable_with_child_context,
)
from durable.config import ChildConfig, Duration, JitterStrategy, StepConfig
from durable.retries import RetryPresets, RetryStrategyConfig, create_retry_strategy
from durable.serdes import SerDes, SerDesContext

#: Above the 256 KiB checkpoint payload limit, so 3-11's child result cannot be checkpointed.
LARGE_PAYLOAD_BYTES = 300 * 1024
WAIT = Duration.from_seconds(1)


@durable_step
def return_value(step_context: StepContext, value: Any) -> Any:
    """The step most requirements use: it returns the input."""
    return value


@durable_step
def failing_step(step_context: StepContext) -> str:
    raise RuntimeError("step inside child context failed")


@durable_with_child_context
def child_with_step(child_context: DurableContext, value: Any) -> Any:
    """A child context whose single step returns `value`; the child returns the step result."""
    return child_context.step(return_value(value))


def h_3_1() -> Any:
    """3-1: a child context with one step returning the input."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child_with_step(event))

    return handler


def h_3_2() -> Any:
    """3-2: the child context is named by `event["name"]`; its step returns `event["value"]`."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child_with_step(event["value"]), name=event["name"])

    return handler


def h_3_3() -> Any:
    """3-3: two sequential steps in a child; the second gets the first's result."""

    @durable_with_child_context
    def two_steps(child_context: DurableContext, value: Any) -> Any:
        first = child_context.step(return_value(value))
        return child_context.step(return_value(first))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(two_steps(event))

    return handler


@durable_with_child_context
def child_with_failing_step(child_context: DurableContext) -> Any:
    return child_context.step(failing_step(), config=StepConfig(retry_strategy=RetryPresets.none()))


def h_3_4() -> Any:
    """3-4: the child's step fails without retry; the ChildContextError fails the execution."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child_with_failing_step())

    return handler


def h_3_5() -> Any:
    """3-5: the parent catches the child's failure and runs a recovery step."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        with contextlib.suppress(ChildContextError):  # the try/except of the requirement
            context.run_in_child_context(child_with_failing_step())
        return context.step(return_value(event))

    return handler


def h_3_6() -> Any:
    """3-6: an outer child (step + inner child) around an inner child (step)."""

    @durable_with_child_context
    def inner_child(child_context: DurableContext, value: Any) -> Any:
        return child_context.step(return_value(value))

    @durable_with_child_context
    def outer_child(child_context: DurableContext, value: Any) -> Any:
        outer_result = child_context.step(return_value(value))
        return child_context.run_in_child_context(inner_child(outer_result))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(outer_child(event))

    return handler


def _retries(max_attempts: int) -> Any:
    return create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(1),
            jitter_strategy=JitterStrategy.NONE,
        )
    )


def h_3_7() -> Any:
    """3-7: the child's step fails on attempt 1 and returns the input on attempt 2."""

    @durable_step
    def flaky(step_context: StepContext, value: Any) -> Any:
        if step_context.attempt == 1:
            raise RuntimeError("first attempt fails")
        return value

    @durable_with_child_context
    def child(child_context: DurableContext, value: Any) -> Any:
        return child_context.step(flaky(value), config=StepConfig(retry_strategy=_retries(3)))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child(event))

    return handler


def h_3_8() -> Any:
    """3-8: the child's step always fails (max_attempts=2); the child, then the execution, fail."""

    @durable_step
    def always_fail(step_context: StepContext) -> str:
        raise RuntimeError(f"attempt {step_context.attempt} failed")

    @durable_with_child_context
    def child(child_context: DurableContext) -> Any:
        return child_context.step(always_fail(), config=StepConfig(retry_strategy=_retries(2)))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child())

    return handler


def h_3_9() -> Any:
    """3-9: a child (one step) then a wait; the replay takes the child's cached result."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        result = context.run_in_child_context(child_with_step(event))
        context.wait(WAIT)
        return result

    return handler


def h_3_10() -> Any:
    """3-10: a step then a wait, both inside the child."""

    @durable_with_child_context
    def child(child_context: DurableContext, value: Any) -> Any:
        result = child_context.step(return_value(value))
        child_context.wait(WAIT)
        return result

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child(event))

    return handler


def h_3_11() -> Any:
    """3-11: the child logs the input (replay logging on), then builds a >256 KiB result from a step.

    The result is too large to checkpoint, so the child is re-executed on replay
    (ReplayChildren) and logs again: two log lines in total.
    """

    @durable_with_child_context
    def large_child(child_context: DurableContext, value: str) -> str:
        child_context.logger.with_is_replaying(lambda: False).info(f"large payload child input: {value}")
        small = child_context.step(return_value(value))
        return small * math.ceil(LARGE_PAYLOAD_BYTES / max(1, len(small)))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> int:
        large = context.run_in_child_context(large_child(event))
        context.wait(WAIT)
        if len(large) <= 256 * 1024 or not large.startswith(event):
            raise AssertionError(f"large child result not reconstructed ({len(large)} chars)")
        return len(large)

    return handler


@durable_step
def crash_once(step_context: StepContext, value: Any) -> Any:
    """Kills the worker process the first time it runs for this input, returns the input after.

    "First time" is a marker file, not the attempt number: the crash leaves no
    completion, so the re-execution may well be the same attempt.
    """
    marker = Path(tempfile.gettempdir()) / f"conformance-3-12-{value}"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    marker.unlink()
    return value


@durable_with_child_context
def child_crashing_once(child_context: DurableContext, value: Any) -> Any:
    return child_context.step(crash_once(value))


@durable_execution
def child_interrupted(event: Any, context: DurableContext) -> Any:
    return context.run_in_child_context(child_crashing_once(event))


def h_3_12() -> Any:
    """3-12: the child's step kills the process the first time it runs, and returns the input after."""
    return child_interrupted


def h_3_13() -> Any:
    """3-13: a child holding only a wait (returns the input), then a step outside it."""

    @durable_with_child_context
    def child(child_context: DurableContext, value: Any) -> Any:
        child_context.wait(WAIT)
        return value

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.run_in_child_context(child(event))
        return context.step(return_value(event))

    return handler


class UppercaseRawSerDes(SerDes):
    """3-14: the payload is the uppercased text itself (not JSON): `HELLO CHILD`."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return str(value).upper()

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data


def h_3_14() -> Any:
    """3-14: the child returns its step's result; the child's serdes uppercases it."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config: ChildConfig[Any] = ChildConfig(serdes=UppercaseRawSerDes())
        return context.run_in_child_context(child_with_step(event), config=config)

    return handler


def h_3_15() -> Any:
    """3-15: the child body raises directly, with no durable operation."""

    @durable_with_child_context
    def child(child_context: DurableContext) -> Any:
        raise RuntimeError("error thrown directly in child body")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child())

    return handler


def h_3_16() -> Any:
    """3-16: the child returns None directly."""

    @durable_with_child_context
    def child(child_context: DurableContext) -> None:
        return None

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(child())

    return handler


def h_3_17() -> Any:
    """3-17: the child only logs (replay logging on) and returns the input; then a wait.

    The child completed, so the replay must not run it again: one log line.
    """

    @durable_with_child_context
    def child(child_context: DurableContext, value: Any) -> Any:
        child_context.logger.with_is_replaying(lambda: False).info(f"child context input: {value}")
        return value

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        result = context.run_in_child_context(child(event))
        context.wait(WAIT)
        return result

    return handler


def h_3_18() -> Any:
    """3-18: a child (step + wait), then a step and a wait at top level."""

    @durable_with_child_context
    def child(child_context: DurableContext, value: Any) -> Any:
        result = child_context.step(return_value(value))
        child_context.wait(WAIT)
        return result

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.run_in_child_context(child(event))
        result = context.step(return_value(event))
        context.wait(WAIT)
        return result

    return handler


HANDLERS: dict[str, Callable[[], Any]] = {
    "3-1": h_3_1,
    "3-2": h_3_2,
    "3-3": h_3_3,
    "3-4": h_3_4,
    "3-5": h_3_5,
    "3-6": h_3_6,
    "3-7": h_3_7,
    "3-8": h_3_8,
    "3-9": h_3_9,
    "3-10": h_3_10,
    "3-11": h_3_11,
    "3-12": h_3_12,
    "3-13": h_3_13,
    "3-14": h_3_14,
    "3-15": h_3_15,
    "3-16": h_3_16,
    "3-17": h_3_17,
    "3-18": h_3_18,
}
