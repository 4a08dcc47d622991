"""The SDK's `concurrency.models`: batch results and completion policy, and the branch bookkeeping names.

The values live in `durable.core.batch` (the BatchParent actor uses them
too); this module adds the summary generator a map or parallel checkpoints
with and the SDK's names for what our BatchParent actor tracks (`Branch`,
`BranchEvent`).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Generic, TypeVar

from durable.core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionPolicy,
    CompletionReason,
    CompletionRecord,
    branch_error_object,
)
from durable.core.batch import BatchResultProtocol as BatchResultProtocol
from durable.core.records import ErrorObject as ErrorObject
from durable.exceptions import ChildContextError as ChildContextError
from durable.exceptions import InvalidStateError
from durable.types import SummaryGenerator

R = TypeVar("R")
CallableType = TypeVar("CallableType")
ResultType = TypeVar("ResultType")

__all__ = [
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "Branch",
    "BranchEvent",
    "BranchEventKind",
    "BranchStatus",
    "CompletionPolicy",
    "CompletionReason",
    "CompletionRecord",
    "Executable",
    "branch_error_object",
    "envelope_summary_generator",
]


def envelope_summary_generator(
    result_type: str, custom_generator: SummaryGenerator[Any] | None
) -> SummaryGenerator[Any]:
    """A summary generator that wraps the user's summary (if any) in the batch's completion envelope."""

    def generate(result: BatchResult[Any]) -> str:
        summary = custom_generator(result) if custom_generator is not None else None
        return CompletionRecord.summary_envelope(result, result_type, summary)

    return generate


@dataclasses.dataclass(frozen=True)
class Executable(Generic[CallableType]):
    index: int
    func: CallableType
    name: str | None = None


class BranchStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    SUSPENDED = "suspended"
    SUSPENDED_WITH_TIMEOUT = "suspended_with_timeout"
    FAILED = "failed"


class Branch(Generic[CallableType, ResultType]):
    """One branch's state as a coordinator tracks it."""

    def __init__(self, executable: Executable[CallableType]) -> None:
        self.executable = executable
        self.status = BranchStatus.PENDING
        self.result: ResultType | None = None
        self.error: Exception | None = None
        self.resume_at: float | None = None

    @property
    def index(self) -> int:
        return self.executable.index

    def start(self) -> None:
        if self.status not in (BranchStatus.PENDING, BranchStatus.SUSPENDED_WITH_TIMEOUT):
            raise InvalidStateError(f"Cannot start branch {self.index} from {self.status}")
        self.status = BranchStatus.RUNNING
        self.resume_at = None

    def complete(self, result: ResultType | None) -> None:
        self.status = BranchStatus.COMPLETED
        self.result = result

    def fail(self, error: Exception) -> None:
        self.status = BranchStatus.FAILED
        self.error = error

    def suspend(self) -> None:
        self.status = BranchStatus.SUSPENDED
        self.resume_at = None

    def suspend_until(self, resume_at: float) -> None:
        self.status = BranchStatus.SUSPENDED_WITH_TIMEOUT
        self.resume_at = resume_at


class BranchEventKind(enum.Enum):
    COMPLETED = "completed"
    FAILED = "failed"
    SUSPENDED = "suspended"
    SUSPENDED_UNTIL = "suspended_until"
    ORPHANED = "orphaned"
    FATAL = "fatal"


@dataclasses.dataclass(frozen=True)
class BranchEvent(Generic[ResultType]):
    index: int
    kind: BranchEventKind
    result: ResultType | None = None
    error: Exception | None = None
    resume_at: float | None = None
    fatal_error: BaseException | None = None

    @classmethod
    def completed(cls, index: int, result: ResultType | None) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.COMPLETED, result=result)

    @classmethod
    def failed(cls, index: int, error: Exception) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.FAILED, error=error)

    @classmethod
    def suspended(cls, index: int) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.SUSPENDED)

    @classmethod
    def suspended_until(cls, index: int, resume_at: float) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.SUSPENDED_UNTIL, resume_at=resume_at)

    @classmethod
    def orphaned(cls, index: int) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.ORPHANED)

    @classmethod
    def fatal(cls, index: int, error: BaseException) -> BranchEvent[ResultType]:
        return cls(index, BranchEventKind.FATAL, fatal_error=error)
