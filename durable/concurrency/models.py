"""The outcome of a map or parallel: one BatchItem per input, in index order."""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

import attrs

from durable.core.records import ErrorObject
from durable.exceptions import DurableOperationError
from durable.serdes import register_extended_type

T = TypeVar("T")


class BatchItemStatus(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STARTED = "STARTED"


class CompletionReason(enum.Enum):
    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"


@attrs.frozen(slots=True)
class BatchItem(Generic[T]):
    index: int
    status: BatchItemStatus
    result: T | None = None
    error: ErrorObject | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "result": self.result,
            "error": self.error.to_dict() if self.error else None,
        }


@attrs.frozen(slots=True)
class BatchResult(Generic[T]):
    """Items in index order, whatever the order they completed in."""

    all: list[BatchItem[T]]
    completion_reason: CompletionReason = CompletionReason.ALL_COMPLETED

    def get_results(self) -> list[T]:
        return [item.result for item in self.all if item.status is BatchItemStatus.SUCCEEDED]  # type: ignore[misc]

    def get_errors(self) -> list[ErrorObject]:
        return [item.error for item in self.all if item.status is BatchItemStatus.FAILED and item.error]

    def succeeded(self) -> list[BatchItem[T]]:
        return [item for item in self.all if item.status is BatchItemStatus.SUCCEEDED]

    def failed(self) -> list[BatchItem[T]]:
        return [item for item in self.all if item.status is BatchItemStatus.FAILED]

    def started(self) -> list[BatchItem[T]]:
        return [item for item in self.all if item.status is BatchItemStatus.STARTED]

    @property
    def status(self) -> BatchItemStatus:
        return BatchItemStatus.FAILED if self.has_failure else BatchItemStatus.SUCCEEDED

    @property
    def has_failure(self) -> bool:
        return any(item.status is BatchItemStatus.FAILED for item in self.all)

    def throw_if_error(self) -> None:
        """Raise the first item failure, as the DurableOperationError it was recorded as."""
        for item in self.all:
            if item.status is BatchItemStatus.FAILED:
                error = item.error or ErrorObject("a batch item failed", "BatchItemError")
                raise DurableOperationError(error.message or "", error.type, error.data, error.stack_trace)

    @property
    def success_count(self) -> int:
        return len(self.succeeded())

    @property
    def failure_count(self) -> int:
        return len(self.failed())

    @property
    def started_count(self) -> int:
        return len(self.started())

    @property
    def total_count(self) -> int:
        return len(self.all)

    def to_serializable(self) -> dict[str, Any]:
        return {"all": [item.to_dict() for item in self.all], "completionReason": self.completion_reason.value}

    @classmethod
    def from_serializable(cls, data: dict[str, Any]) -> BatchResult[Any]:
        items = [
            BatchItem(
                index=raw["index"],
                status=BatchItemStatus(raw["status"]),
                result=raw.get("result"),
                error=ErrorObject.from_dict(raw["error"]) if raw.get("error") else None,
            )
            for raw in data["all"]
        ]
        return cls(items, CompletionReason(data.get("completionReason", "ALL_COMPLETED")))


register_extended_type("BatchResult", BatchResult.from_serializable)
