"""The outcome of a map or parallel, and the completion policy that decides when a batch is done (pure values).

A `BatchResult` holds one `BatchItem` per input, in index order whatever
the order they finished in.  `CompletionPolicy` is the SDK's reading of a
`CompletionConfig` (any object with its three criteria): with no criteria,
the first failure ends the batch; the reason is checked in the order
tolerance exceeded, all completed, minimum reached.  The BatchParent actor
and the user API (`durable.concurrency.models`) share these.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from abc import abstractmethod
from collections import Counter
from typing import Any, Generic, Protocol, TypeVar

from loguru import logger

from durable.core.records import ErrorObject
from durable.exceptions import ChildContextError, DurableOperationError

T = TypeVar("T")


class BatchResultProtocol(Protocol, Generic[T]):
    """What every batch result offers (the SDK's `types.BatchResult`)."""

    @abstractmethod
    def get_results(self) -> list[T]: ...


class CompletionCriteria(Protocol):
    """The three criteria of a `durable.config.CompletionConfig`."""

    @property
    def min_successful(self) -> int | None: ...

    @property
    def tolerated_failure_count(self) -> int | None: ...

    @property
    def tolerated_failure_percentage(self) -> int | float | None: ...


R = TypeVar("R")


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
    def from_config(cls, total: int, config: CompletionCriteria | None) -> CompletionPolicy:
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
    def from_dict(cls, data: dict[str, Any], completion_config: CompletionCriteria | None = None) -> BatchResult[R]:
        items: list[BatchItem[R]] = [BatchItem.from_dict(item) for item in data["all"]]
        reason = data.get("completionReason")
        if reason is None:
            result = cls.from_items(items, completion_config)
            logger.warning("a BatchResult without completionReason: inferred {} from its items",
                           result.completion_reason.value)
            return result
        return cls(items, CompletionReason(reason))

    @classmethod
    def from_items(
        cls, items: list[BatchItem[R]], completion_config: CompletionCriteria | None = None
    ) -> BatchResult[R]:
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
