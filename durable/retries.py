"""Retry strategies: pure functions from (error, attempts made) to a RetryDecision.

Delays are whole seconds because the retry waits on a durable timer: the
invocation may suspend between attempts and the service resumes it.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

from durable.config import Duration, JitterStrategy
from durable.exceptions import ValidationError

T = TypeVar("T")

RetryStrategy = Callable[[Exception, int], "RetryDecision"]


@attrs.frozen(slots=True)
class RetryDecision:
    should_retry: bool
    delay: Duration = Duration(0)

    @classmethod
    def retry(cls, delay: Duration) -> RetryDecision:
        return cls(True, delay)

    @classmethod
    def no_retry(cls) -> RetryDecision:
        return cls(False)


def at_least_one(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    """attrs validator for attempt counts."""
    if value < 1:
        raise ValidationError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen(slots=True)
class RetryStrategyConfig:
    """Exponential backoff: delay = min(initial_delay * backoff_rate**(attempt-1), max_delay), then jitter."""

    max_attempts: int = attrs.field(default=3, validator=at_least_one)
    initial_delay: Duration = Duration(5)
    max_delay: Duration = Duration(300)
    backoff_rate: float = 2.0
    jitter_strategy: JitterStrategy = JitterStrategy.FULL
    retryable_errors: Sequence[str | re.Pattern[str]] = ()
    retryable_error_types: Sequence[type[BaseException]] = ()

    def __attrs_post_init__(self) -> None:
        if self.backoff_rate < 1:
            raise ValidationError(f"backoff_rate must be at least 1, got {self.backoff_rate}")


@attrs.frozen(slots=True)
class LinearRetryStrategyConfig:
    """Linear backoff: delay = initial_delay + increment * (attempt-1), capped at max_delay."""

    max_attempts: int = attrs.field(default=3, validator=at_least_one)
    initial_delay: Duration = Duration(5)
    increment: Duration = Duration(5)
    max_delay: Duration = Duration(300)
    jitter_strategy: JitterStrategy = JitterStrategy.NONE
    retryable_errors: Sequence[str | re.Pattern[str]] = ()
    retryable_error_types: Sequence[type[BaseException]] = ()


def whole_seconds(delay: float) -> int:
    """Durable timers count whole seconds, and never fewer than one."""
    return max(1, math.ceil(delay))


def apply_jitter(delay: float, jitter: JitterStrategy) -> float:
    if jitter is JitterStrategy.FULL:
        return random.uniform(0, delay)
    if jitter is JitterStrategy.HALF:
        return delay / 2 + random.uniform(0, delay / 2)
    return delay


def _is_retryable(
    error: Exception,
    messages: Sequence[str | re.Pattern[str]],
    types: Sequence[type[BaseException]],
) -> bool:
    if not messages and not types:
        return True
    if types and isinstance(error, tuple(types)):
        return True
    text = str(error)
    for pattern in messages:
        if isinstance(pattern, re.Pattern):
            if pattern.search(text):
                return True
        elif pattern in text:
            return True
    return False


def create_retry_strategy(config: RetryStrategyConfig | LinearRetryStrategyConfig) -> RetryStrategy:
    """Build the strategy function a StepConfig takes."""

    def strategy(error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made >= config.max_attempts:
            return RetryDecision.no_retry()
        if not _is_retryable(error, config.retryable_errors, config.retryable_error_types):
            return RetryDecision.no_retry()
        base: float
        if isinstance(config, LinearRetryStrategyConfig):
            base = config.initial_delay.seconds + config.increment.seconds * (attempts_made - 1)
        else:
            base = config.initial_delay.seconds * config.backoff_rate ** (attempts_made - 1)
        base = min(base, config.max_delay.seconds)
        delay = whole_seconds(apply_jitter(base, config.jitter_strategy))
        return RetryDecision.retry(Duration(delay))

    return strategy


class RetryPresets:
    """Ready-made strategies, as in the AWS SDK."""

    @staticmethod
    def none() -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(max_attempts=1))

    @staticmethod
    def default() -> RetryStrategy:
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=6,
                initial_delay=Duration(5),
                max_delay=Duration(60),
                backoff_rate=2.0,
                jitter_strategy=JitterStrategy.FULL,
            )
        )

    @staticmethod
    def transient() -> RetryStrategy:
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=3, initial_delay=Duration(1), backoff_rate=2.0,
                jitter_strategy=JitterStrategy.HALF,
            )
        )

    @staticmethod
    def resource_availability() -> RetryStrategy:
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=5, initial_delay=Duration(5), max_delay=Duration(300),
                backoff_rate=2.0,
            )
        )

    @staticmethod
    def critical() -> RetryStrategy:
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=10, initial_delay=Duration(1), max_delay=Duration(60),
                backoff_rate=1.5, jitter_strategy=JitterStrategy.NONE,
            )
        )


@attrs.frozen(slots=True)
class WithRetryConfig:
    retry_strategy: RetryStrategy | None = None
    name: str | None = None


def with_retry(config: WithRetryConfig | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a step function so it runs as a step with the given retry strategy.

    `@with_retry(WithRetryConfig(RetryPresets.transient()))` on `f(step_context, *args)`
    yields `f(*args)` returning a step callable whose StepConfig carries the strategy.
    """
    from durable.context import durable_step

    chosen = config or WithRetryConfig()

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        step_factory = durable_step(func)

        def build(*args: Any, **kwargs: Any) -> Any:
            step = step_factory(*args, **kwargs)
            setattr(step, "_durable_retry_strategy", chosen.retry_strategy)  # noqa: B010 - a marker on a callable
            if chosen.name:
                setattr(step, "_durable_step_name", chosen.name)  # noqa: B010
            return step

        return build

    return decorate
