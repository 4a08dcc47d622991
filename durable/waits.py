"""Polling strategies for wait_for_condition: pure functions from (state, attempt) to a decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from durable.config import Duration, JitterStrategy
from durable.exceptions import ValidationError, WaitForConditionError
from durable.retries import apply_jitter, at_least_one, whole_seconds
from durable.serdes import SerDes

T = TypeVar("T")


@attrs.frozen(slots=True)
class WaitForConditionDecision:
    should_continue: bool
    delay: Duration = Duration(0)

    @classmethod
    def continue_waiting(cls, delay: Duration) -> WaitForConditionDecision:
        return cls(True, delay)

    @classmethod
    def stop_polling(cls) -> WaitForConditionDecision:
        return cls(False)


WaitStrategy = Callable[[Any, int], WaitForConditionDecision]


@attrs.frozen(slots=True)
class WaitStrategyConfig(Generic[T]):
    """Poll while `should_continue_polling(state)`; back off like a retry; give up after max_attempts."""

    should_continue_polling: Callable[[T], bool]
    max_attempts: int = attrs.field(default=60, validator=at_least_one)
    initial_delay: Duration = Duration(5)
    max_delay: Duration = Duration(300)
    backoff_rate: float = 1.5
    jitter_strategy: JitterStrategy = JitterStrategy.FULL

    def __attrs_post_init__(self) -> None:
        if self.backoff_rate < 1:
            raise ValidationError(f"backoff_rate must be at least 1, got {self.backoff_rate}")


def create_wait_strategy(config: WaitStrategyConfig[Any]) -> WaitStrategy:
    def strategy(state: Any, attempts_made: int) -> WaitForConditionDecision:
        if not config.should_continue_polling(state):
            return WaitForConditionDecision.stop_polling()
        if attempts_made >= config.max_attempts:
            raise WaitForConditionError(
                f"the condition was not met after {attempts_made} attempts (max_attempts={config.max_attempts})",
                "WaitForConditionMaxAttemptsExceeded",
            )
        base = min(config.initial_delay.seconds * config.backoff_rate ** (attempts_made - 1), config.max_delay.seconds)
        delay = whole_seconds(apply_jitter(base, config.jitter_strategy))
        return WaitForConditionDecision.continue_waiting(Duration(delay))

    return strategy


@attrs.frozen(slots=True)
class WaitForConditionConfig(Generic[T]):
    wait_strategy: WaitStrategy
    initial_state: T | None = None
    serdes: SerDes | None = None
