"""The operation model: what is checkpointed for every durable operation.

The module keeps the AWS SDK's name so that ported imports work.  Records are
frozen: an `Operation` is a value, and a new status is a new record made by
the transitions in `durable.core.transitions`.
"""

from __future__ import annotations

import enum
import traceback
from typing import Any

import attrs

OperationPayload = str


class OperationType(enum.Enum):
    EXECUTION = "EXECUTION"
    STEP = "STEP"
    WAIT = "WAIT"
    CONTEXT = "CONTEXT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationStatus(enum.Enum):
    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
        OperationStatus.STOPPED,
    }
)


class OperationSubType(enum.Enum):
    STEP = "Step"
    WAIT = "Wait"
    CALLBACK = "Callback"
    RUN_IN_CHILD_CONTEXT = "RunInChildContext"
    MAP = "Map"
    MAP_ITERATION = "MapIteration"
    PARALLEL = "Parallel"
    PARALLEL_BRANCH = "ParallelBranch"
    WAIT_FOR_CALLBACK = "WaitForCallback"
    WAIT_FOR_CONDITION = "WaitForCondition"
    CHAINED_INVOKE = "ChainedInvoke"


class OperationAction(enum.Enum):
    """What a checkpoint asks the service to do with an operation."""

    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class InvocationStatus(enum.Enum):
    """How an invocation (or, for the last three, an execution) ended."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"


@attrs.frozen(slots=True)
class ErrorObject:
    """A recorded error: enough to re-raise it on replay and to show it in history."""

    message: str | None = None
    type: str | None = None
    data: str | None = None
    stack_trace: list[str] | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorObject:
        from durable.exceptions import DurableOperationError

        if isinstance(error, DurableOperationError):
            return cls(
                message=error.message,
                type=error.error_type or type(error).__name__,
                data=error.data,
                stack_trace=error.stack_trace,
            )
        return cls(
            message=str(error),
            type=type(error).__name__,
            stack_trace=traceback.format_exception(error)[-8:],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ErrorObject:
        data = data or {}
        return cls(
            message=data.get("ErrorMessage"),
            type=data.get("ErrorType"),
            data=data.get("ErrorData"),
            stack_trace=data.get("StackTrace"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.type is not None:
            out["ErrorType"] = self.type
        if self.message is not None:
            out["ErrorMessage"] = self.message
        if self.data is not None:
            out["ErrorData"] = self.data
        if self.stack_trace:
            out["StackTrace"] = list(self.stack_trace)
        return out


@attrs.frozen(slots=True)
class OperationRecord:
    """The checkpointed state of one durable operation."""

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_id: str | None = None
    name: str | None = None
    sub_type: OperationSubType | None = None
    start_timestamp: float | None = None
    end_timestamp: float | None = None
    result: OperationPayload | None = None
    error: ErrorObject | None = None
    attempt: int = 0
    next_attempt_timestamp: float | None = None
    scheduled_end_timestamp: float | None = None
    #: seconds from start to the scheduled end: a wait's duration, a callback's or chained invoke's timeout
    wait_seconds: int | None = None
    replay_children: bool = False
    callback_id: str | None = None
    heartbeat_timeout: int | None = None
    heartbeat_deadline: float | None = None
    extra: dict[str, Any] | None = attrs.field(default=None, hash=False)

    @property
    def due_timestamp(self) -> float | None:
        """When the service must act on this operation without being asked, if ever.

        A started wait, callback or chained invoke is due at its scheduled end
        (its timeout); a callback also at its heartbeat deadline.
        """
        if self.status is OperationStatus.STARTED:
            dues = [d for d in (self.scheduled_end_timestamp, self.heartbeat_deadline) if d is not None]
            return min(dues) if dues else None
        if self.status is OperationStatus.PENDING and self.next_attempt_timestamp is not None:
            return self.next_attempt_timestamp
        return None


@attrs.frozen(slots=True)
class RecordUpdate:
    """One checkpoint request: an action on one operation."""

    operation_id: str
    operation_type: OperationType
    action: OperationAction
    parent_id: str | None = None
    name: str | None = None
    sub_type: OperationSubType | None = None
    payload: OperationPayload | None = None
    error: ErrorObject | None = None
    next_attempt_delay_seconds: int | None = None
    wait_seconds: int | None = None
    replay_children: bool = False
    heartbeat_timeout: int | None = None
    extra: dict[str, Any] | None = attrs.field(default=None, hash=False)
