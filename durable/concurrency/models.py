"""The outcome of a map or parallel, and the completion policy that decides when a batch is done (pure values).

A `BatchResult` holds one `BatchItem` per input, in index order whatever
the order they finished in.  `CompletionPolicy` is the SDK's reading of a
`CompletionConfig`: with no criteria, the first failure ends the batch; the
reason is checked in the order tolerance exceeded, all completed, minimum
reached.  The branch bookkeeping types at the bottom (`Branch`,
`BranchEvent`) are the SDK's names for what our BatchParent actor tracks.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections import Counter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from loguru import logger

from durable.core.records import ErrorObject
from durable.exceptions import ChildContextError, DurableOperationError, InvalidStateError
from durable.types import BatchResult as BatchResultProtocol

if TYPE_CHECKING:
    from durable.config import CompletionConfig
    from durable.types import SummaryGenerator

R = TypeVar("R")
CallableType = TypeVar("CallableType")
ResultType = TypeVar("ResultType")


class BatchItemStatus(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STARTED = "STARTED"


class CompletionReason(enum.Enum):
    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"


@dataclasses.dataclass(frozen=True)
class CompletionPolicy:
    """When a batch of `total` branches is done, and why."""

    total: int
    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: int | float | None = None

    @classmethod
    def from_config(cls, total: int, config: CompletionConfig | None) -> CompletionPolicy:
        if config is None:
            return cls(total=total)
        return cls(total, config.min_successful, config.tolerated_failure_count, config.tolerated_failure_percentage)

    @property
    def has_criteria(self) -> bool:
        return (
            self.min_successful is not None
            or self.tolerated_failure_count is not None
            or self.tolerated_failure_percentage is not None
        )

    def is_tolerance_exceeded(self, failed: int) -> bool:
        if not self.has_criteria:
            return failed > 0
        if self.tolerated_failure_count is not None and failed > self.tolerated_failure_count:
            return True
        if self.tolerated_failure_percentage is not None and self.total > 0:
            return failed / self.total * 100 > self.tolerated_failure_percentage
        return False

    def should_continue(self, failed: int) -> bool:
        return not self.is_tolerance_exceeded(failed)

    def is_complete(self, succeeded: int, failed: int) -> bool:
        if succeeded + failed >= self.total:
            return True
        return self.min_successful is not None and succeeded >= self.min_successful

    def reason(self, succeeded: int, failed: int) -> CompletionReason:
        if self.is_tolerance_exceeded(failed):
            return CompletionReason.FAILURE_TOLERANCE_EXCEEDED
        if succeeded + failed >= self.total:
            return CompletionReason.ALL_COMPLETED
        if self.min_successful is not None and succeeded >= self.min_successful:
            return CompletionReason.MIN_SUCCESSFUL_REACHED
        return CompletionReason.ALL_COMPLETED


@dataclasses.dataclass(frozen=True)
class CompletionRecord:
    """What a summary checkpoint says about a batch that ended: why, and which branches had started."""

    completion_reason: CompletionReason
    started_total: int
    started_indexes: frozenset[int]

    @classmethod
    def from_summary_payload(cls, payload: str | None) -> CompletionRecord | None:
        """Read a summary envelope; None for anything that is not one."""
        try:
            data = json.loads(payload) if payload else None
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict):
            return None
        reason, total = data.get("completionReason"), data.get("totalCount")
        if not isinstance(reason, str) or isinstance(total, bool) or not isinstance(total, int) or total < 0:
            return None
        try:
            completion_reason = CompletionReason(reason)
        except ValueError:
            return None
        started, completed = data.get("startedIndexes"), data.get("completedIndexes")
        if isinstance(started, list):
            indexes = cls._validated_indexes(started, total)
            return None if indexes is None else cls(completion_reason, total, indexes)
        if isinstance(completed, list):
            indexes = cls._validated_indexes(completed, total)
            return None if indexes is None else cls(completion_reason, total, frozenset(range(total)) - indexes)
        return None

    @staticmethod
    def _validated_indexes(raw: list[object], total: int) -> frozenset[int] | None:
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < total for i in raw):
            return None
        return frozenset(i for i in raw if isinstance(i, int))

    @staticmethod
    def summary_index_fields(items: list[BatchItem[Any]]) -> dict[str, list[int]]:
        """The shorter of the two lists: indexes still started, or indexes that finished."""
        started = [item.index for item in items if item.status is BatchItemStatus.STARTED]
        completed = [item.index for item in items if item.status is not BatchItemStatus.STARTED]
        return {"startedIndexes": started} if len(started) <= len(completed) else {"completedIndexes": completed}

    @staticmethod
    def summary_envelope(result: BatchResult[Any], result_type: str, summary: str | None) -> str:
        fields: dict[str, object] = {
            "type": result_type,
            "totalCount": result.total_count,
            "completionReason": result.completion_reason.value,
            **CompletionRecord.summary_index_fields(result.all),
            "startedCount": result.started_count,
            "successCount": result.success_count,
            "failureCount": result.failure_count,
            "status": result.status.value,
        }
        if summary is not None:
            fields["summary"] = summary if isinstance(summary, str) else str(summary)
        return json.dumps(fields)


def envelope_summary_generator(
    result_type: str, custom_generator: SummaryGenerator[Any] | None
) -> SummaryGenerator[Any]:
    """A summary generator that wraps the user's summary (if any) in the batch's completion envelope."""

    def generate(result: BatchResult[Any]) -> str:
        summary = custom_generator(result) if custom_generator is not None else None
        return CompletionRecord.summary_envelope(result, result_type, summary)

    return generate


def branch_error_object(error: Exception) -> ErrorObject:
    """A failed item's error: an operation error keeps the type it carries (the error inside the branch)."""
    if isinstance(error, DurableOperationError):
        return ErrorObject(error.message, error.error_type, error.data, error.stack_trace)
    return ErrorObject.from_exception(error)


@dataclasses.dataclass(frozen=True)
class BatchItem(Generic[R]):
    index: int
    status: BatchItemStatus
    result: R | None = None
    error: ErrorObject | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "result": self.result,
            "error": self.error.to_dict() if self.error else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchItem[R]:
        error = ErrorObject.from_dict(data["error"]) if data.get("error") else None
        return cls(data["index"], BatchItemStatus(data["status"]), data.get("result"), error)


@dataclasses.dataclass(frozen=True)
class BatchResult(Generic[R], BatchResultProtocol[R]):
    """Items in index order, and why the batch ended."""

    all: list[BatchItem[R]]
    completion_reason: CompletionReason

    @classmethod
    def from_dict(cls, data: dict[str, Any], completion_config: CompletionConfig | None = None) -> BatchResult[R]:
        items: list[BatchItem[R]] = [BatchItem.from_dict(item) for item in data["all"]]
        reason = data.get("completionReason")
        if reason is None:
            result = cls.from_items(items, completion_config)
            logger.warning("a BatchResult without completionReason: inferred {} from its items",
                           result.completion_reason.value)
            return result
        return cls(items, CompletionReason(reason))

    @classmethod
    def from_items(cls, items: list[BatchItem[R]], completion_config: CompletionConfig | None = None) -> BatchResult[R]:
        counts = Counter(item.status for item in items)
        policy = CompletionPolicy.from_config(len(items), completion_config)
        return cls(items, policy.reason(counts[BatchItemStatus.SUCCEEDED], counts[BatchItemStatus.FAILED]))

    def to_dict(self) -> dict[str, Any]:
        return {"all": [item.to_dict() for item in self.all], "completionReason": self.completion_reason.value}

    def succeeded(self) -> list[BatchItem[R]]:
        return [item for item in self.all if item.status is BatchItemStatus.SUCCEEDED and item.result is not None]

    def failed(self) -> list[BatchItem[R]]:
        return [item for item in self.all if item.status is BatchItemStatus.FAILED and item.error is not None]

    def started(self) -> list[BatchItem[R]]:
        return [item for item in self.all if item.status is BatchItemStatus.STARTED]

    @property
    def status(self) -> BatchItemStatus:
        return BatchItemStatus.FAILED if self.has_failure else BatchItemStatus.SUCCEEDED

    @property
    def has_failure(self) -> bool:
        return any(item.status is BatchItemStatus.FAILED for item in self.all)

    def throw_if_error(self) -> None:
        """Raise the first failed item's error as a ChildContextError (caused by the error it recorded)."""
        first = next((item.error for item in self.all if item.status is BatchItemStatus.FAILED), None)
        if first is not None:
            first.raise_as_operation_error(ChildContextError)

    def get_results(self) -> list[R]:
        return [item.result for item in self.succeeded()]  # type: ignore[misc]

    def get_errors(self) -> list[ErrorObject]:
        return [item.error for item in self.all if item.status is BatchItemStatus.FAILED and item.error is not None]

    @property
    def success_count(self) -> int:
        return sum(1 for item in self.all if item.status is BatchItemStatus.SUCCEEDED)

    @property
    def failure_count(self) -> int:
        return sum(1 for item in self.all if item.status is BatchItemStatus.FAILED)

    @property
    def started_count(self) -> int:
        return sum(1 for item in self.all if item.status is BatchItemStatus.STARTED)

    @property
    def total_count(self) -> int:
        return len(self.all)


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
