"""The operation model: what is checkpointed for every durable operation.

The module keeps the AWS SDK's name so that ported imports work.  Records are
values (`durable.core.values`): an `Operation` never changes, and a new status
is a new record made by the transitions in `durable.core.transitions`.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import operator
from collections.abc import Mapping
from typing import Any, NoReturn

import attrs

from durable.core.values import value_class
from durable.exceptions import DurableOperationError

OperationPayload = str


class _Kind(enum.Enum):
    """An enum whose members hash by identity, as they compare: Enum's own hash is Python code, run on
    every dict and set lookup of a record's type or status."""

    __hash__ = object.__hash__


class OperationType(_Kind):
    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"

    @classmethod
    def from_sub_type(cls, sub_type: OperationSubType) -> OperationType:
        """The operation type a sub-type belongs to (a map is a CONTEXT, a wait_for_condition a STEP)."""
        found = TYPE_OF_SUB_TYPE.get(sub_type)
        if found is None:
            raise ValueError(f"Unknown operation sub-type {sub_type}")
        return found


class OperationStatus(_Kind):
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


class OperationSubType(_Kind):
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


#: the operation type each sub-type belongs to (a map is a CONTEXT, a wait_for_condition a STEP)
TYPE_OF_SUB_TYPE = {
    OperationSubType.STEP: OperationType.STEP,
    OperationSubType.WAIT_FOR_CONDITION: OperationType.STEP,
    OperationSubType.WAIT: OperationType.WAIT,
    OperationSubType.CHAINED_INVOKE: OperationType.CHAINED_INVOKE,
    OperationSubType.CALLBACK: OperationType.CALLBACK,
    **{
        sub_type: OperationType.CONTEXT
        for sub_type in (
            OperationSubType.WAIT_FOR_CALLBACK, OperationSubType.RUN_IN_CHILD_CONTEXT, OperationSubType.MAP,
            OperationSubType.MAP_ITERATION, OperationSubType.PARALLEL, OperationSubType.PARALLEL_BRANCH,
        )
    },
}


class OperationAction(_Kind):
    """What a checkpoint asks the service to do with an operation."""

    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class InvocationStatus(enum.Enum):
    """How an invocation ended; RETRY: it failed in a way that calls for another invocation."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RETRY = "RETRY"


class CallbackTimeoutType(enum.Enum):
    """The error type of a callback that timed out: overall, or between heartbeats."""

    TIMEOUT = "Callback.Timeout"
    HEARTBEAT = "Callback.Heartbeat"


@dataclasses.dataclass(frozen=True)
class ErrorObject:
    """A recorded error: enough to re-raise it on replay and to show it in history (the SDK's dataclass)."""

    message: str | None = None
    type: str | None = None
    data: str | None = None
    stack_trace: list[str] | None = None

    @classmethod
    def from_exception(cls, exception: BaseException) -> ErrorObject:
        """The error as recorded: the exception's class name as its type; an operation error keeps its details."""
        if isinstance(exception, DurableOperationError):
            return cls(exception.message, type(exception).__name__, exception.data, exception.stack_trace)
        try:
            return cls(str(exception), type(exception).__name__, None, None)
        except Exception as unprintable:  # its __str__ raised: that error is the one recorded, as in the SDK
            return cls(_message_or_none(unprintable), type(unprintable).__name__, None, None)

    @classmethod
    def from_message(cls, message: str) -> ErrorObject:
        return cls(message, None, None, None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ErrorObject:
        data = data or {}
        return cls(data.get("ErrorMessage"), data.get("ErrorType"), data.get("ErrorData"), data.get("StackTrace"))

    def to_dict(self) -> dict[str, Any]:
        fields = {
            "ErrorMessage": self.message, "ErrorType": self.type, "ErrorData": self.data,
            "StackTrace": self.stack_trace,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def to_durable_operation_error(self) -> DurableOperationError:
        return DurableOperationError.from_error_fields(self.type, self.message, self.data, self.stack_trace)

    def raise_as_operation_error(self, operation_error_cls: builtins.type[DurableOperationError]) -> NoReturn:
        """Raise `operation_error_cls` with this error's fields, caused by the error it records.

        The first run and every replay raise through here, so user code sees the
        same error either way.
        """
        raise operation_error_cls(self.message, self.type, self.data, self.stack_trace) from (
            self.to_durable_operation_error()
        )


@value_class
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

        A started wait is due at its scheduled end; a step or poll waiting to
        retry at its next attempt; a started callback or chained invoke at its
        timeout (a callback also at its heartbeat deadline).  Timeouts are kept
        in real time (`on_wall_clock`), timers in engine time.
        """
        if self.status is OperationStatus.STARTED:
            dues = [d for d in (self.scheduled_end_timestamp, self.heartbeat_deadline) if d is not None]
            return min(dues) if dues else None
        if self.status is OperationStatus.PENDING and self.next_attempt_timestamp is not None:
            return self.next_attempt_timestamp
        return None

    @property
    def on_wall_clock(self) -> bool:
        """Whether the due time is a timeout, measured in real time (skipping test time never reaches it)."""
        return self.operation_type in _TIMEOUTS and self.status is OperationStatus.STARTED

    def evolve(self, **changes: Any) -> OperationRecord:
        """`attrs.evolve` for the hot path (twice per poll of a timer wave): every field read in one C call,
        the record built from them by position."""
        values = list(_record_values(self))
        for name, value in changes.items():
            values[_RECORD_INDEX[name]] = value
        return OperationRecord(*values)

    def due_at(self, skew: float) -> float | None:
        """The due time on the engine's clock, given how far it runs ahead of real time."""
        due = self.due_timestamp
        if due is None:
            return None
        return due + skew if self.on_wall_clock else due


_TIMEOUTS = frozenset({OperationType.CALLBACK, OperationType.CHAINED_INVOKE})
_RECORD_FIELDS = tuple(field.name for field in attrs.fields(OperationRecord))
_RECORD_INDEX = {name: i for i, name in enumerate(_RECORD_FIELDS)}
_record_values = operator.attrgetter(*_RECORD_FIELDS)


def next_timer(operations: list[OperationRecord]) -> float | None:
    """When the first timer (a wait's end, a retry, a poll; not a timeout) is due, on the engine's clock."""
    dues = [due for op in operations if not op.on_wall_clock and (due := op.due_timestamp) is not None]
    return min(dues) if dues else None


@value_class
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
    #: when the handler asked (engine time), for a request that is not waited on: a retry's next attempt
    #: counts from here, so it is due when the branch that suspended on it expects, however long the
    #: request waited in the ExecutionState's mailbox; a start held back to travel with its outcome is
    #: stamped with it
    issued_at: float | None = None


def _message_or_none(exception: BaseException) -> str | None:
    try:
        return str(exception)
    except Exception:
        return None
