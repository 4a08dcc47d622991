"""Configuration values users pass to operations (AWS SDK names and fields)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import timedelta
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


def positive_seconds(value: Duration | timedelta | float, what: str) -> float:
    """An engine setting given as a Duration, a timedelta or seconds, in seconds (sub-second allowed)."""
    if isinstance(value, Duration):
        result = float(value.seconds)
    elif isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ValidationError(f"{what} must be a Duration, a timedelta or seconds, got {value!r}")
    if not result > 0:
        raise ValidationError(f"{what} must be positive, got {value!r}")
    return result


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


class NestingType(enum.Enum):
    """NESTED gives every branch its own context operation; FLAT runs branches in virtual contexts."""

    NESTED = "NESTED"
    FLAT = "FLAT"


def _optional_non_negative(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 0:
        raise ValidationError(f"CompletionConfig.{attribute.name} must not be negative, got {value}")


@attrs.frozen(slots=True)
class CompletionConfig:
    """When a batch may stop before every branch has run."""

    min_successful: int | None = attrs.field(default=None, validator=_optional_non_negative)
    tolerated_failure_count: int | None = attrs.field(default=None, validator=_optional_non_negative)
    tolerated_failure_percentage: float | None = attrs.field(default=None, validator=_optional_non_negative)

    def __attrs_post_init__(self) -> None:
        percentage = self.tolerated_failure_percentage
        if percentage is not None and not 0 <= percentage <= 100:
            raise ValidationError(
                f"CompletionConfig.tolerated_failure_percentage must be within 0-100, got {percentage}"
            )

    @classmethod
    def first_successful(cls) -> CompletionConfig:
        return cls(min_successful=1)

    @classmethod
    def all_completed(cls) -> CompletionConfig:
        return cls()

    @classmethod
    def all_successful(cls) -> CompletionConfig:
        return cls(tolerated_failure_count=0, tolerated_failure_percentage=0)


@attrs.frozen(slots=True)
class MapConfig(Generic[T]):
    max_concurrency: int | None = None
    completion_config: CompletionConfig | None = None
    serdes: SerDes | None = None
    item_serdes: SerDes | None = None
    summary_generator: Callable[[Any], str] | None = None
    nesting_type: NestingType = NestingType.NESTED
    item_namer: Callable[[Any, int], str] | None = None


@attrs.frozen(slots=True)
class ParallelConfig:
    max_concurrency: int | None = None
    completion_config: CompletionConfig | None = None
    serdes: SerDes | None = None
    item_serdes: SerDes | None = None
    summary_generator: Callable[[Any], str] | None = None
    nesting_type: NestingType = NestingType.NESTED


@attrs.frozen(slots=True)
class ParallelBranch(Generic[T]):
    """A parallel branch with a name: `func(context)` runs in its own child context."""

    func: Callable[..., T]
    name: str | None = None


def _optional_duration(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, Duration):
        raise ValidationError(f"{attribute.name} takes a Duration, got {type(value).__name__}")


@attrs.frozen(slots=True)
class CallbackConfig:
    """A callback's timeout (overall) and heartbeat timeout (between heartbeats); None or 0 s: none."""

    timeout: Duration | None = attrs.field(default=None, validator=_optional_duration)
    heartbeat_timeout: Duration | None = attrs.field(default=None, validator=_optional_duration)
    serdes: SerDes | None = None


@attrs.frozen(slots=True)
class WaitForCallbackConfig(CallbackConfig):
    """CallbackConfig plus the retry strategy of the submitter step."""

    retry_strategy: Callable[[Exception, int], RetryDecision] | None = None


@attrs.frozen(slots=True)
class InvokeConfig:
    """A chained invoke's timeout, its payload and result serdes, and the tenant it runs for."""

    timeout: Duration | None = attrs.field(default=None, validator=_optional_duration)
    serdes_payload: SerDes | None = None
    serdes_result: SerDes | None = None
    tenant_id: str | None = None
