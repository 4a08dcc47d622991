"""The writes that change an execution as a whole, as data: what a store applies atomically.

A `WriteSet` is everything one request changes for one execution.  The
functions at the bottom build the writes that end an invocation or an
execution from outside the handler (an invocation timed out or left behind
by a crashed process, a stop, an execution timeout), so every such write has
one shape wherever it is made.
"""

from __future__ import annotations

import enum

import attrs

from durable.core.history import HistoryEvent, error_details
from durable.core.records import ErrorObject, OperationRecord


class ExecutionStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        return self is not ExecutionStatus.RUNNING


@attrs.frozen(slots=True)
class ExecutionChange:
    """Changes to the execution row that ride along with a WriteSet."""

    status: ExecutionStatus | None = None
    result: str | None = None
    error: ErrorObject | None = None
    ended: float | None = None
    invocation_open: bool | None = None
    bump_token: bool = False


class Unchanged(enum.Enum):
    """Marks a field a WriteSet leaves as it is."""

    UNCHANGED = "UNCHANGED"


UNCHANGED = Unchanged.UNCHANGED


@attrs.frozen(slots=True)
class WriteSet:
    """Everything one request changes for one execution, applied atomically or not at all.

    `token` fences: the write applies only if the execution's current token
    equals it (None: a service-side write, applied while the execution is not
    terminal).  `expect_open` names operations that must exist and still be
    open, or the whole write is a conflict: how an outside completion is
    applied at most once.
    """

    execution_id: str
    token: int | None
    operations: tuple[OperationRecord, ...] = ()
    events: tuple[HistoryEvent, ...] = ()
    execution: ExecutionChange | None = None
    alarm: float | Unchanged | None = UNCHANGED
    expect_open: tuple[str, ...] = ()


def close_invocation(
    execution_id: str, token: int | None, now: float, error: ErrorObject, request_id: str | None = None
) -> WriteSet:
    """End the open invocation with `error` and fence it: its later writes are refused (token bumped)."""
    details: dict[str, object] = {"RequestId": request_id} if request_id is not None else {}
    details.update(error_details(error))
    return WriteSet(
        execution_id,
        token,
        events=(HistoryEvent("InvocationCompleted", now, details),),
        execution=ExecutionChange(invocation_open=False, bump_token=True),
    )


def end_execution(
    execution_id: str, status: ExecutionStatus, event_type: str, now: float, error: ErrorObject | None
) -> WriteSet:
    """End the execution from outside the handler (stopped, timed out); any running invocation is fenced."""
    return WriteSet(
        execution_id,
        None,
        events=(HistoryEvent(event_type, now, error_details(error) if error else {}),),
        execution=ExecutionChange(status, error=error, ended=now, invocation_open=False, bump_token=True),
        alarm=None,
    )
