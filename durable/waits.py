"""wait_for_condition's configuration and strategies: pure functions from (state, attempts made) to a decision."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Generic

from durable.config import Duration, JitterStrategy, T
from durable.exceptions import WaitForConditionError
from durable.serdes import SerDes

Numeric = int | float


@dataclasses.dataclass
class WaitStrategyConfig(Generic[T]):
    """Poll while `should_continue_polling(state)`, backing off from `initial_delay` by `backoff_rate`."""

    should_continue_polling: Callable[[T], bool]
    max_attempts: int = 60
    initial_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_seconds(5))
    max_delay: Duration = dataclasses.field(default_factory=lambda: Duration.from_minutes(5))
    backoff_rate: Numeric = 1.5
    jitter_strategy: JitterStrategy = JitterStrategy.FULL

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.to_seconds()

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.to_seconds()


@dataclasses.dataclass(frozen=True)
class WaitForConditionDecision:
    should_continue: bool
    delay: Duration

    @property
    def delay_seconds(self) -> int:
        return self.delay.to_seconds()

    @classmethod
    def continue_waiting(cls, delay: Duration) -> WaitForConditionDecision:
        return cls(should_continue=True, delay=delay)

    @classmethod
    def stop_polling(cls) -> WaitForConditionDecision:
        return cls(should_continue=False, delay=Duration())


def create_wait_strategy(config: WaitStrategyConfig[T]) -> Callable[[T, int], WaitForConditionDecision]:
    """The strategy `config` describes; it raises WaitForConditionError once `max_attempts` polls found no end."""

    def wait_strategy(result: T, attempts_made: int) -> WaitForConditionDecision:
        if not config.should_continue_polling(result):
            return WaitForConditionDecision.stop_polling()
        if attempts_made >= config.max_attempts:
            raise WaitForConditionError(
                f"wait_for_condition exhausted {config.max_attempts} attempts before the condition was met"
            )
        base = min(config.initial_delay_seconds * config.backoff_rate ** (attempts_made - 1), config.max_delay_seconds)
        return WaitForConditionDecision.continue_waiting(
            Duration(seconds=max(1, math.ceil(config.jitter_strategy.apply_jitter(base))))
        )

    return wait_strategy


@dataclasses.dataclass(frozen=True)
class WaitForConditionConfig(Generic[T]):
    wait_strategy: Callable[[T, int], WaitForConditionDecision]
    initial_state: T
    serdes: SerDes | None = None


__all__ = [
    "Duration",
    "JitterStrategy",
    "Numeric",
    "WaitForConditionConfig",
    "WaitForConditionDecision",
    "WaitForConditionError",
    "WaitStrategyConfig",
    "create_wait_strategy",
]

