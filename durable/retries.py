"""Retry strategies: pure functions from (error, attempts made) to a RetryDecision, as in the AWS SDK.

Delays are whole seconds, at least one: a retry waits on a durable timer, and
the invocation may suspend between attempts.  `with_retry` retries a whole
block of durable code, waiting durably between attempts.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Generic, TypeVar

from durable.config import ChildConfig, Duration, JitterStrategy, RetryDecision
from durable.exceptions import SuspendExecution
from durable.types import DurableContext

T = TypeVar("T")
Numeric = int | float

_ANY_ERROR = re.compile(".*")


@dataclasses.dataclass
class RetryStrategyConfig:
    """Exponential backoff: min(initial_delay * backoff_rate**(attempt-1), max_delay), then jitter.

    With neither `retryable_errors` (substrings or patterns of the message) nor
    `retryable_error_types` given, every error is retried.
    """

    max_attempts: int = 3
    initial_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_seconds(5))
    max_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_minutes(5))
    backoff_rate: Numeric = 2.0
    jitter_strategy: JitterStrategy = JitterStrategy.FULL
    retryable_errors: list[str | re.Pattern[str]] | None = None
    retryable_error_types: list[type[Exception]] | None = None

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.to_seconds()

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.to_seconds()


@dataclasses.dataclass
class LinearRetryStrategyConfig:
    """Linear backoff: min(initial_delay + increment * (attempt-1), max_delay), then jitter."""

    max_attempts: int = 6
    initial_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_seconds(1))
    increment: Duration = dataclasses.field(default_factory=lambda: Duration.from_seconds(1))
    max_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_minutes(5))
    jitter_strategy: JitterStrategy = JitterStrategy.FULL
    retryable_errors: list[str | re.Pattern[str]] | None = None
    retryable_error_types: list[type[Exception]] | None = None

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.to_seconds()

    @property
    def increment_seconds(self) -> int:
        return self.increment.to_seconds()

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.to_seconds()


RetryStrategy = Callable[[Exception, int], RetryDecision]


def _retryable(
    patterns: list[str | re.Pattern[str]] | None, types: list[type[Exception]] | None
) -> Callable[[Exception], bool]:
    """Which errors a config retries: any, when it names neither messages nor types."""
    messages = patterns if patterns is not None else ([_ANY_ERROR] if types is None else [])
    kinds = tuple(types or ())

    def retryable(error: Exception) -> bool:
        text = str(error)
        by_message = any(
            pattern.search(text) if isinstance(pattern, re.Pattern) else pattern in text for pattern in messages
        )
        return by_message or isinstance(error, kinds)

    return retryable


def create_retry_strategy(config: RetryStrategyConfig | None = None) -> RetryStrategy:
    """The exponential strategy `config` describes (the defaults when None)."""
    chosen = config or RetryStrategyConfig()
    retryable = _retryable(chosen.retryable_errors, chosen.retryable_error_types)

    def retry_strategy(error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made >= chosen.max_attempts or not retryable(error):
            return RetryDecision.no_retry()
        base = min(chosen.initial_delay_seconds * chosen.backoff_rate ** (attempts_made - 1), chosen.max_delay_seconds)
        return RetryDecision.retry(Duration(seconds=chosen.jitter_strategy.finalize_delay(base)))

    return retry_strategy


def create_linear_retry_strategy(config: LinearRetryStrategyConfig | None = None) -> RetryStrategy:
    """The linear strategy `config` describes (the defaults when None)."""
    chosen = config or LinearRetryStrategyConfig()
    retryable = _retryable(chosen.retryable_errors, chosen.retryable_error_types)

    def linear_retry_strategy(error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made >= chosen.max_attempts or not retryable(error):
            return RetryDecision.no_retry()
        base = min(
            chosen.initial_delay_seconds + chosen.increment_seconds * (attempts_made - 1), chosen.max_delay_seconds
        )
        return RetryDecision.retry(Duration(seconds=chosen.jitter_strategy.finalize_delay(base)))

    return linear_retry_strategy


class RetryPresets:
    """Ready-made strategies, with the SDK's settings."""

    @classmethod
    def none(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(max_attempts=1))

    @classmethod
    def default(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=6, initial_delay=Duration.from_seconds(5), max_delay=Duration.from_minutes(1),
            backoff_rate=2, jitter_strategy=JitterStrategy.FULL,
        ))

    @classmethod
    def transient(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=3, backoff_rate=2, jitter_strategy=JitterStrategy.HALF,
        ))

    @classmethod
    def resource_availability(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=5, initial_delay=Duration.from_seconds(5), max_delay=Duration.from_minutes(5), backoff_rate=2,
        ))

    @classmethod
    def critical(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=10, initial_delay=Duration.from_seconds(1), max_delay=Duration.from_minutes(1),
            backoff_rate=1.5, jitter_strategy=JitterStrategy.NONE,
        ))

    @classmethod
    def linear(cls) -> RetryStrategy:
        return create_linear_retry_strategy(LinearRetryStrategyConfig(
            max_attempts=6, initial_delay=Duration.from_seconds(1), increment=Duration.from_seconds(1),
            jitter_strategy=JitterStrategy.NONE,
        ))

    @classmethod
    def fixed(cls, interval: Duration | None = None) -> RetryStrategy:
        delay = interval if interval is not None else Duration.from_seconds(5)
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=5, initial_delay=delay, max_delay=delay, backoff_rate=1, jitter_strategy=JitterStrategy.NONE,
        ))


@dataclasses.dataclass(frozen=True)
class WithRetryConfig(Generic[T]):
    retry_strategy: RetryStrategy | None = None
    wrap_with_run_in_child_context: bool = True
    child_context_config: ChildConfig[T] | None = None


def with_retry(
    context: DurableContext,
    func: Callable[[DurableContext, int], T],
    config: WithRetryConfig[T],
    name: str | None = None,
) -> T:
    """Run `func(context, attempt)` until it returns or the strategy gives up, waiting durably between attempts.

    The attempts run in one child context (named `name`) unless the config
    says otherwise; each wait is named `<name>-backoff-<attempt>`.
    """
    strategy = config.retry_strategy or create_retry_strategy()

    def attempts(ctx: DurableContext) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return func(ctx, attempt)
            except SuspendExecution:
                raise
            except Exception as error:
                decision = strategy(error, attempt)
                if not decision.should_retry:
                    raise
                ctx.wait(duration=decision.delay, name=f"{name}-backoff-{attempt}" if name else None)

    if config.wrap_with_run_in_child_context:
        return context.run_in_child_context(attempts, name=name, config=config.child_context_config)
    return attempts(context)


__all__ = [
    "Duration",
    "JitterStrategy",
    "LinearRetryStrategyConfig",
    "Numeric",
    "RetryDecision",
    "RetryPresets",
    "RetryStrategyConfig",
    "SuspendExecution",
    "WithRetryConfig",
    "create_linear_retry_strategy",
    "create_retry_strategy",
    "with_retry",
]

