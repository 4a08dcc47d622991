"""The store interface: what the engine needs from durable storage.

Writes arrive only from the CheckpointWriter actor, as batches of `WriteSet`s
committed in one transaction (group commit); each WriteSet is fenced by the
invocation token it was written under, so a timed-out or stopped invocation
changes nothing.  Reads may come from any thread.  The same interface is
meant for SQLite (embedded default), memory (unit tests) and PostgreSQL.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from typing import Any

import attrs

from durable.engine.history import HistoryEvent
from durable.lambda_service import (
    ErrorObject,
    Operation,
    OperationStatus,
    OperationSubType,
    OperationType,
)


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
class ExecutionRecord:
    execution_id: str
    function_name: str
    status: ExecutionStatus
    input: str | None
    created: float
    name: str | None = None
    result: str | None = None
    error: ErrorObject | None = None
    ended: float | None = None
    token: int = 0
    invocations: int = 0
    invocation_open: bool = False
    deadline: float | None = None
    alarm: float | None = None


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
    terminal).
    """

    execution_id: str
    token: int | None
    operations: tuple[Operation, ...] = ()
    events: tuple[HistoryEvent, ...] = ()
    execution: ExecutionChange | None = None
    alarm: float | Unchanged | None = UNCHANGED


@attrs.frozen(slots=True)
class CommitResult:
    ok: bool
    reason: str = ""
    token: int | None = None


@attrs.define(slots=True)
class FenceState:
    """The part of an execution row that decides whether a WriteSet may apply."""

    status: str
    token: int
    next_event_id: int

    def admit(self, ws: WriteSet) -> CommitResult:
        """Accept or reject `ws`; an accepted one moves this state on (token, status, event ids)."""
        if ws.token is not None and ws.token != self.token:
            return CommitResult(False, f"invocation token {ws.token} is fenced (current {self.token})")
        if self.status != ExecutionStatus.RUNNING.value:
            return CommitResult(False, f"execution already {self.status}")
        change = ws.execution
        if change is not None:
            if change.bump_token:
                self.token += 1
            if change.status is not None:
                self.status = change.status.value
        self.next_event_id += len(ws.events)
        return CommitResult(True, token=self.token)


class StoreError(Exception):
    """The store cannot be opened or used (bad path, not a durable store, ...)."""


class Store(ABC):
    url: str

    @abstractmethod
    def create_execution(
        self,
        execution_id: str,
        function_name: str,
        input: str | None,
        name: str | None,
        deadline: float | None,
        now: float,
        start_event: HistoryEvent,
    ) -> tuple[ExecutionRecord, bool]:
        """Create an execution, or return the one already started under `name` (False)."""

    @abstractmethod
    def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    @abstractmethod
    def list_executions(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]: ...

    @abstractmethod
    def load_operations(self, execution_id: str) -> list[Operation]: ...

    @abstractmethod
    def history(self, execution_id: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        """Apply the batch in one transaction; each WriteSet is accepted or rejected on its own."""

    @abstractmethod
    def begin_invocation(self, execution_id: str, now: float) -> CommitResult:
        """Open an invocation: new token, invocation count + 1; rejected if the execution ended."""

    @abstractmethod
    def stored_alarms(self) -> list[tuple[str, float]]: ...

    @abstractmethod
    def open_invocations(self) -> list[str]:
        """Executions whose last invocation never closed (its process died)."""

    @abstractmethod
    def put_meta(self, key: str, value: str) -> None:
        """Keep a small engine-level value (the last actor topology, for example)."""

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    def acquire_engine_lock(self) -> None:  # noqa: B027 - optional hook
        """Claim the store for this engine process; StoreError if another live engine has it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def operation_to_json(op: Operation) -> str:
    return json.dumps(
        {
            "t": op.operation_type.value,
            "s": op.status.value,
            "p": op.parent_id,
            "n": op.name,
            "st": op.sub_type.value if op.sub_type else None,
            "ts": op.start_timestamp,
            "te": op.end_timestamp,
            "r": op.result,
            "e": op.error.to_dict() if op.error else None,
            "a": op.attempt,
            "na": op.next_attempt_timestamp,
            "se": op.scheduled_end_timestamp,
            "w": op.wait_seconds,
            "rc": op.replay_children,
            "x": op.extra,
        },
        separators=(",", ":"),
    )


def operation_from_json(operation_id: str, text: str) -> Operation:
    d = json.loads(text)
    return Operation(
        operation_id=operation_id,
        operation_type=OperationType(d["t"]),
        status=OperationStatus(d["s"]),
        parent_id=d["p"],
        name=d["n"],
        sub_type=OperationSubType(d["st"]) if d["st"] else None,
        start_timestamp=d["ts"],
        end_timestamp=d["te"],
        result=d["r"],
        error=ErrorObject.from_dict(d["e"]) if d["e"] else None,
        attempt=d["a"],
        next_attempt_timestamp=d["na"],
        scheduled_end_timestamp=d["se"],
        wait_seconds=d["w"],
        replay_children=d["rc"],
        extra=d.get("x"),
    )
