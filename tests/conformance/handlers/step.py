"""Handlers for the step suite (requirements 1-1 .. 1-20).

"Fails on the first attempt" logic reads `step_context.attempt` (1-based)
instead of a counter, because the retry runs in a later invocation (possibly
another process) and only the checkpointed attempt number survives that.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from durable import DurableContext, StepContext, StepError, durable_execution, durable_step
from durable.config import Duration, JitterStrategy, StepConfig, StepSemantics
from durable.retries import (
    RetryDecision,
    RetryPresets,
    RetryStrategyConfig,
    create_retry_strategy,
)
from durable.serdes import SerDes, SerDesContext


class TransientError(Exception):
    """The custom error type 1-15 and 1-16 retry (or not) by type."""


def _one_second_retries(max_attempts: int) -> Callable[[Exception, int], RetryDecision]:
    """Retries with a fixed 1 s delay, so NextAttemptDelaySeconds is exactly 1."""
    return create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(1),
            max_delay=Duration.from_seconds(1),
            backoff_rate=1.0,
            jitter_strategy=JitterStrategy.NONE,
        )
    )


@durable_step
def greet(step_context: StepContext, name: str) -> str:
    return f"Hello, {name}!"


def h_1_1() -> Any:
    """1-1: a single step returns the greeting."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(greet(event))

    return handler


def h_1_2() -> Any:
    """1-2: the same step, with an explicit name."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(greet(event), name="custom_step_name")

    return handler


def h_1_3() -> Any:
    """1-3: the second step uses the first step's result."""

    @durable_step
    def step_one(step_context: StepContext) -> str:
        return "first"

    @durable_step
    def step_two(step_context: StepContext, previous: str) -> str:
        return f"{previous}_second"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        result1 = context.step(step_one())
        return context.step(step_two(result1))

    return handler


def h_1_4() -> Any:
    """1-4: a step returns a nested object built from the input."""

    @durable_step
    def build_response(step_context: StepContext, event: dict[str, Any]) -> dict[str, Any]:
        tags = list(event["tags"])
        return {"user": {"name": event["name"], "tags": tags}, "count": len(tags)}

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        return context.step(build_response(event))

    return handler


def h_1_5() -> Any:
    """1-5: a step returns None."""

    @durable_step
    def do_nothing(step_context: StepContext) -> None:
        return None

    @durable_execution
    def handler(event: Any, context: DurableContext) -> None:
        return context.step(do_nothing())

    return handler


class UppercaseSerDes(SerDes):
    """1-6: JSON with every string value uppercased on serialization."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(_uppercase(value))

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json.loads(data)


def _uppercase(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, list):
        return [_uppercase(v) for v in value]
    if isinstance(value, dict):
        return {k: _uppercase(v) for k, v in value.items()}
    return value


def h_1_6() -> Any:
    """1-6: the step returns its input; the custom serdes uppercases it."""

    @durable_step
    def return_input(step_context: StepContext, value: Any) -> Any:
        return value

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.step(return_input(event), config=StepConfig(serdes=UppercaseSerDes()))

    return handler


def h_1_7() -> Any:
    """1-7: the step logs start and completion through `step_context.logger`."""

    @durable_step
    def greet_logged(step_context: StepContext, name: str) -> str:
        step_context.logger.info(f"Greeting step started for: {name}")
        greeting = f"Hello, {name}!"
        step_context.logger.info(f"Greeting step completed with: {greeting}")
        return greeting

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(greet_logged(event))

    return handler


def h_1_8() -> Any:
    """1-8: a step, then a 2 s wait; the replay skips the completed step."""

    @durable_step
    def compute(step_context: StepContext) -> str:
        return "computed"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        result = context.step(compute())
        context.wait(Duration.from_seconds(2))
        return result

    return handler


def h_1_9() -> Any:
    """1-9: a step that logs "step executed", then a 1 s wait; replay returns the cached result."""

    @durable_step
    def produce(step_context: StepContext) -> str:
        step_context.logger.info("step executed")
        return "cached_value"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        result = context.step(produce())
        context.wait(Duration.from_seconds(1))
        return result

    return handler


def h_1_10() -> Any:
    """1-10: a permanently failing step inside try/except, then a 1 s wait; replay re-raises."""

    @durable_step
    def fail_permanently(step_context: StepContext) -> str:
        step_context.logger.info("step executed")
        raise RuntimeError("step failed permanently")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        with contextlib.suppress(StepError):  # the try/except of the requirement
            context.step(fail_permanently(), config=StepConfig(retry_strategy=RetryPresets.none()))
        context.wait(Duration.from_seconds(1))
        return "error handled"

    return handler


def h_1_11() -> Any:
    """1-11: fails on attempt 1, succeeds on attempt 2 (1 s retry delay)."""

    @durable_step
    def unreliable_func(step_context: StepContext) -> str:
        if step_context.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "Operation succeeded"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        config = StepConfig(retry_strategy=_one_second_retries(max_attempts=3))
        return context.step(unreliable_func(), config=config)

    return handler


def h_1_12() -> Any:
    """1-12: always fails; 4 attempts in total, 1 s apart."""

    @durable_step
    def always_fail(step_context: StepContext) -> str:
        raise RuntimeError(f"attempt {step_context.attempt} failed")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        config = StepConfig(retry_strategy=_one_second_retries(max_attempts=4))
        return context.step(always_fail(), config=config)

    return handler


def h_1_13() -> Any:
    """1-13: fails on attempts 1 and 2, succeeds on 3, with the default retry strategy."""

    @durable_step
    def unreliable_func(step_context: StepContext) -> str:
        if step_context.attempt < 3:
            raise RuntimeError(f"attempt {step_context.attempt} fails")
        return "succeeded on third attempt"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(unreliable_func())

    return handler


def h_1_14() -> Any:
    """1-14: fails twice then succeeds; 5 attempts, 2 s initial delay, 3x backoff, no jitter."""

    @durable_step
    def flaky(step_context: StepContext) -> str:
        if step_context.attempt < 3:
            raise RuntimeError(f"attempt {step_context.attempt} fails")
        return "succeeded after backoff"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        strategy = create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=5,
                initial_delay=Duration.from_seconds(2),
                backoff_rate=3,
                jitter_strategy=JitterStrategy.NONE,
            )
        )
        return context.step(flaky(), config=StepConfig(retry_strategy=strategy))

    return handler


def retry_on_transient(error: Exception, attempts_made: int) -> RetryDecision:
    """1-15: retry (after 1 s) only when the error is a TransientError."""
    if isinstance(error, TransientError) and attempts_made < 3:
        return RetryDecision.retry(Duration.from_seconds(1))
    return RetryDecision.no_retry()


def no_retry_on_transient_error(error: Exception, attempts_made: int) -> RetryDecision:
    """1-16: never retry a TransientError (other errors get one 1 s retry)."""
    if isinstance(error, TransientError) or attempts_made >= 2:
        return RetryDecision.no_retry()
    return RetryDecision.retry(Duration.from_seconds(1))


def h_1_15() -> Any:
    """1-15: TransientError on attempt 1; the type-checking strategy retries it."""

    @durable_step
    def transient_once(step_context: StepContext) -> str:
        if step_context.attempt == 1:
            raise TransientError("temporary failure")
        return "recovered"

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        config = StepConfig(retry_strategy=retry_on_transient)
        return context.step(transient_once(), config=config)

    return handler


def h_1_16() -> Any:
    """1-16: TransientError; the strategy refuses to retry it, the step fails permanently."""

    @durable_step
    def transient_always(step_context: StepContext) -> str:
        raise TransientError("temporary failure")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        config = StepConfig(retry_strategy=no_retry_on_transient_error)
        return context.step(transient_always(), config=config)

    return handler


@durable_step
def at_most_once_flaky_step(step_context: StepContext, value: str) -> str:
    """Logs the input; attempt 1 kills the worker process (1-17 has no attempt 2)."""
    step_context.logger.info(f"at most once step input: {value}")
    if step_context.attempt == 1:
        os._exit(1)
    return "succeeded on second attempt"


@durable_execution
def at_most_once_without_retry(event: Any, context: DurableContext) -> str:
    config = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry_strategy=RetryPresets.none())
    return context.step(at_most_once_flaky_step(event), config=config)


@durable_execution
def at_most_once_with_retry(event: Any, context: DurableContext) -> str:
    config = StepConfig(
        step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
        retry_strategy=_one_second_retries(max_attempts=3),
    )
    return context.step(at_most_once_flaky_step(event), config=config)


def h_1_17() -> Any:
    """1-17: AT_MOST_ONCE_PER_RETRY, no retry; the step logs the input and kills the process."""
    return at_most_once_without_retry


def h_1_18() -> Any:
    """1-18: AT_MOST_ONCE_PER_RETRY with retries; attempt 1 kills the process, attempt 2 succeeds."""
    return at_most_once_with_retry


def h_1_19() -> Any:
    """1-19: a step that always raises, with RetryPresets.none()."""

    @durable_step
    def failing_func(step_context: StepContext) -> str:
        raise RuntimeError("step always fails")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        config = StepConfig(retry_strategy=RetryPresets.none())
        return context.step(failing_func(), config=config)

    return handler


def h_1_20() -> Any:
    """1-20: the failing step's StepError is caught; a second step uses the fallback value."""

    @durable_step
    def failing_func(step_context: StepContext) -> str:
        raise RuntimeError("step fails")

    @durable_step
    def use_value(step_context: StepContext, value: str) -> str:
        return value

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        try:
            value = context.step(failing_func(), config=StepConfig(retry_strategy=RetryPresets.none()))
        except StepError:
            value = "fallback_result"
        return context.step(use_value(value))

    return handler


HANDLERS: dict[str, Callable[[], Any]] = {
    "1-1": h_1_1,
    "1-2": h_1_2,
    "1-3": h_1_3,
    "1-4": h_1_4,
    "1-5": h_1_5,
    "1-6": h_1_6,
    "1-7": h_1_7,
    "1-8": h_1_8,
    "1-9": h_1_9,
    "1-10": h_1_10,
    "1-11": h_1_11,
    "1-12": h_1_12,
    "1-13": h_1_13,
    "1-14": h_1_14,
    "1-15": h_1_15,
    "1-16": h_1_16,
    "1-17": h_1_17,
    "1-18": h_1_18,
    "1-19": h_1_19,
    "1-20": h_1_20,
}
