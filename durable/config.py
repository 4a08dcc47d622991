"""Configuration values users pass to operations: the AWS SDK's classes, fields, defaults and checks.

They are frozen dataclasses, as in the SDK, so `dataclasses.replace` works on
them.  Each checks its own values when built and raises `ValidationError`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from durable.core.records import OperationSubType
from durable.exceptions import ValidationError
from durable.serdes import SerDes

P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T")

Numeric = int | float


@dataclasses.dataclass(frozen=True)
class Duration:
    """A length of time in whole seconds (what the service checkpoints); `from_*` truncate."""

    seconds: int = 0

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValidationError("Duration seconds must be positive")

    def to_seconds(self) -> int:
        return self.seconds

    @classmethod
    def from_seconds(cls, value: float) -> Duration:
        return cls(seconds=int(value))

    @classmethod
    def from_minutes(cls, value: float) -> Duration:
        return cls(seconds=int(value * 60))

    @classmethod
    def from_hours(cls, value: float) -> Duration:
        return cls(seconds=int(value * 3600))

    @classmethod
    def from_days(cls, value: float) -> Duration:
        return cls(seconds=int(value * 86400))


@dataclasses.dataclass
class RetryDecision:
    should_retry: bool
    delay: Duration

    @property
    def delay_seconds(self) -> int:
        return self.delay.to_seconds()

    @classmethod
    def retry(cls, delay: Duration) -> RetryDecision:
        return cls(should_retry=True, delay=delay)

    @classmethod
    def no_retry(cls) -> RetryDecision:
        return cls(should_retry=False, delay=Duration())


C_contra = TypeVar("C_contra", contravariant=True)


class SummaryGenerator(Protocol[C_contra]):
    """Turns a result too large to checkpoint into a short JSON summary (the operation then replays its children)."""

    def __call__(self, result: C_contra) -> str: ...


class NestingType(enum.Enum):
    """NESTED: a CONTEXT operation per branch (visible, costs an operation each); FLAT: virtual contexts."""

    NESTED = "NESTED"
    FLAT = "FLAT"


@dataclasses.dataclass(frozen=True)
class CompletionConfig:
    """When a map or parallel may stop before every branch has run.

    All fields None means: stop at the first failure.  The helpers name the
    usual policies.
    """

    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: int | float | None = None

    def __post_init__(self) -> None:
        if self.min_successful is not None and self.min_successful < 1:
            raise ValidationError(f"min_successful must be at least 1, got: {self.min_successful}")
        if self.tolerated_failure_count is not None and self.tolerated_failure_count < 0:
            raise ValidationError(f"tolerated_failure_count must be non-negative, got: {self.tolerated_failure_count}")
        percentage = self.tolerated_failure_percentage
        if percentage is not None and not 0 <= percentage <= 100:
            raise ValidationError(f"tolerated_failure_percentage must be between 0 and 100, got: {percentage}")

    def _validate_for_total(self, total: int) -> None:
        if self.min_successful is not None and self.min_successful > total:
            raise ValidationError(
                f"min_successful cannot be greater than total items: {self.min_successful} > {total}"
            )

    @staticmethod
    def first_successful() -> CompletionConfig:
        return CompletionConfig(min_successful=1, tolerated_failure_count=None, tolerated_failure_percentage=None)

    @staticmethod
    def all_completed() -> CompletionConfig:
        return CompletionConfig(min_successful=None, tolerated_failure_count=None, tolerated_failure_percentage=100)

    @staticmethod
    def all_successful() -> CompletionConfig:
        return CompletionConfig(min_successful=None, tolerated_failure_count=0, tolerated_failure_percentage=0)


def _check_duration(value: object, what: str) -> None:
    """Ours, beyond the SDK (which would fail later with an AttributeError): a timeout must be a Duration."""
    if not isinstance(value, Duration):
        raise ValidationError(f"{what} takes a Duration, got {type(value).__name__}")


def _check_max_concurrency(value: int | None) -> None:
    if value is not None and value < 1:
        raise ValidationError(f"max_concurrency must be at least 1, got: {value}")


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    max_concurrency: int | None = None
    completion_config: CompletionConfig = dataclasses.field(default_factory=CompletionConfig.all_successful)
    serdes: SerDes | None = None
    item_serdes: SerDes | None = None
    summary_generator: SummaryGenerator[Any] | None = None
    nesting_type: NestingType = NestingType.NESTED

    def __post_init__(self) -> None:
        _check_max_concurrency(self.max_concurrency)


@dataclasses.dataclass(frozen=True)
class ParallelBranch(Generic[T]):
    """A parallel branch with a name: calling it calls `func`."""

    func: Callable[..., T]
    name: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self.func(*args, **kwargs)


class StepSemantics(enum.Enum):
    """AT_LEAST_ONCE_PER_RETRY may re-run an attempt that crashed; AT_MOST_ONCE_PER_RETRY never does."""

    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"
    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"


@dataclasses.dataclass(frozen=True)
class StepConfig:
    retry_strategy: Callable[[Exception, int], RetryDecision] | None = None
    step_semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY
    serdes: SerDes | None = None


@dataclasses.dataclass(frozen=True)
class ChildConfig(Generic[T]):
    serdes: SerDes | None = None
    sub_type: OperationSubType | None = None
    summary_generator: SummaryGenerator[Any] | None = None
    is_virtual: bool = False


@dataclasses.dataclass(frozen=True)
class MapConfig(Generic[T]):
    max_concurrency: int | None = None
    completion_config: CompletionConfig = dataclasses.field(default_factory=CompletionConfig)
    serdes: SerDes | None = None
    item_serdes: SerDes | None = None
    summary_generator: SummaryGenerator[Any] | None = None
    nesting_type: NestingType = NestingType.NESTED
    item_namer: Callable[[T, int], str] | None = None

    def __post_init__(self) -> None:
        _check_max_concurrency(self.max_concurrency)


@dataclasses.dataclass(frozen=True)
class InvokeConfig(Generic[P, R]):
    """How a chained invoke's payload and result are serialized, and the tenant it runs for.

    `timeout` (ours, keyword only): how long the caller waits for the invoked
    execution before the operation times out.
    """

    serdes_payload: SerDes | None = None
    serdes_result: SerDes | None = None
    tenant_id: str | None = None
    timeout: Duration | None = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.timeout is not None:
            _check_duration(self.timeout, "timeout")


@dataclasses.dataclass(frozen=True)
class CallbackConfig:
    """A callback's overall timeout and heartbeat timeout (0 s: none), and the serdes of its result."""

    timeout: Duration = dataclasses.field(default_factory=Duration)
    heartbeat_timeout: Duration = dataclasses.field(default_factory=Duration)
    serdes: SerDes | None = None

    def __post_init__(self) -> None:
        _check_duration(self.timeout, "timeout")
        _check_duration(self.heartbeat_timeout, "heartbeat_timeout")

    @property
    def timeout_seconds(self) -> int:
        return self.timeout.to_seconds()

    @property
    def heartbeat_timeout_seconds(self) -> int:
        return self.heartbeat_timeout.to_seconds()


@dataclasses.dataclass(frozen=True)
class WaitForCallbackConfig(CallbackConfig):
    """CallbackConfig plus the retry strategy of the submitter step."""

    retry_strategy: Callable[[Exception, int], RetryDecision] | None = None


class JitterStrategy(enum.StrEnum):
    """How retry and poll delays are randomised so that peers do not retry in step."""

    NONE = "NONE"
    FULL = "FULL"
    HALF = "HALF"

    def apply_jitter(self, delay: float) -> float:
        if self is JitterStrategy.NONE:
            return delay
        if self is JitterStrategy.HALF:
            return delay / 2 + random.random() * (delay / 2)
        return random.random() * delay

    def finalize_delay(self, base_delay: float) -> int:
        """The jittered delay in whole seconds, at least 1."""
        return max(1, math.ceil(self.apply_jitter(base_delay)))
