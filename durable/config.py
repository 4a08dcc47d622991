"""Configuration values users pass to operations (AWS SDK names and fields)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from durable.exceptions import ValidationError

if TYPE_CHECKING:
    from durable.retries import RetryDecision
    from durable.serdes import SerDes

T = TypeVar("T")


@attrs.frozen(slots=True)
class Duration:
    """A length of time in whole seconds (what the service checkpoints)."""

    seconds: int = 0

    def __attrs_post_init__(self) -> None:
        if self.seconds < 0:
            raise ValidationError(f"Duration must not be negative, got {self.seconds} s")

    @classmethod
    def from_seconds(cls, value: float) -> Duration:
        return cls(_whole(value, 1))

    @classmethod
    def from_minutes(cls, value: float) -> Duration:
        return cls(_whole(value, 60))

    @classmethod
    def from_hours(cls, value: float) -> Duration:
        return cls(_whole(value, 3600))

    @classmethod
    def from_days(cls, value: float) -> Duration:
        return cls(_whole(value, 86400))

    def to_seconds(self) -> int:
        return self.seconds


def _whole(value: float, unit: int) -> int:
    if value < 0:
        raise ValidationError(f"Duration must not be negative, got {value}")
    return round(value * unit)


class JitterStrategy(enum.Enum):
    """How retry and poll delays are randomised so that peers do not retry in step."""

    NONE = "NONE"
    FULL = "FULL"
    HALF = "HALF"


class StepSemantics(enum.Enum):
    """AT_LEAST_ONCE_PER_RETRY may re-run an attempt that crashed; AT_MOST_ONCE_PER_RETRY never does."""

    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"
    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"


@attrs.frozen(slots=True)
class StepConfig:
    retry_strategy: Callable[[Exception, int], RetryDecision] | None = None
    step_semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY
    serdes: SerDes | None = None


@attrs.frozen(slots=True)
class ChildConfig(Generic[T]):
    serdes: SerDes | None = None
    sub_type: Any = None
    summary_generator: Callable[[T], str] | None = None
