"""The store interface: what the engine needs from durable storage.

Writes arrive only from the CheckpointWriter actor, as batches of `WriteSet`s
committed in one transaction (group commit); each WriteSet is fenced by the
invocation token it was written under, so a timed-out or stopped invocation
changes nothing.  Reads may come from any thread.  The same interface is
meant for SQLite (embedded default), memory (unit tests) and PostgreSQL.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from durable.core.history import HistoryEvent, plain_json_encoder
from durable.core.records import (
    ErrorObject,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.core.writes import UNCHANGED as UNCHANGED
from durable.core.writes import ExecutionChange as ExecutionChange
from durable.core.writes import ExecutionStatus as ExecutionStatus
from durable.core.writes import Unchanged as Unchanged
from durable.core.writes import WriteSet as WriteSet


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
    parent_execution_id: str | None = None
    parent_operation_id: str | None = None
    tenant_id: str | None = None

    @property
    def cursor(self) -> tuple[float, str]:
        """Where a page that ends with this execution leaves off (`ExecutionQuery.before`)."""
        return (self.created, self.execution_id)

    def to_dict(self) -> dict[str, Any]:
        """The one JSON shape of an execution: the HTTP API's `Execution` body and `durable status --json`."""
        return {
            "execution_id": self.execution_id,
            "function": self.function_name,
            "name": self.name,
            "status": self.status.value,
            "input": self.input,
            "result": self.result,
            "error": self.error.to_dict() if self.error else None,
            "created": self.created,
            "ended": self.ended,
            "invocations": self.invocations,
            "parent_execution_id": self.parent_execution_id,
            "tenant_id": self.tenant_id,
        }


@attrs.frozen(slots=True)
class ExecutionQuery:
    """Which executions one page of a listing holds: filters, where the page starts, and how many.

    `function_name` matches exactly, `name_prefix` the start of the execution name; `before` is the
    (created, execution_id) of the last execution of the previous page (None: the newest).
    """

    status: ExecutionStatus | None = None
    function_name: str | None = None
    name_prefix: str | None = None
    before: tuple[float, str] | None = None
    limit: int = 100

    def matches(self, record: ExecutionRecord) -> bool:
        return (
            (self.status is None or record.status is self.status)
            and (self.function_name is None or record.function_name == self.function_name)
            and (self.name_prefix is None or (record.name is not None and record.name.startswith(self.name_prefix)))
            and (self.before is None or (record.created, record.execution_id) < self.before)
        )


@attrs.frozen(slots=True)
class CommitResult:
    """`dropped`: operations this write would have changed after an outside completion closed them."""

    ok: bool
    reason: str = ""
    token: int | None = None
    conflict: bool = False
    dropped: tuple[str, ...] = ()


#: Operations that something outside an invocation can close (a callback's sender, an invoked execution).
OUTSIDE_CLOSED = frozenset({OperationType.CALLBACK, OperationType.CHAINED_INVOKE})


def screen(ws: WriteSet, current: Callable[[str], OperationRecord | None]) -> tuple[WriteSet, CommitResult | None]:
    """The operation-level rules of a commit: `expect_open`, and a closed record never changes.

    Returns the write to apply (without any record an outside completion
    already closed, nor that record's events) or a conflict.  Only records
    that outside parties close are read, so ordinary checkpoints cost nothing.
    """
    for operation_id in ws.expect_open:
        op = current(operation_id)
        if op is None or op.status.is_terminal:
            state = "does not exist" if op is None else f"is already {op.status.value}"
            return ws, CommitResult(False, f"conflict: operation {operation_id} {state}", conflict=True)
    dropped = {
        op.operation_id
        for op in ws.operations
        if op.operation_type in OUTSIDE_CLOSED
        and op.status.is_terminal
        and op.operation_id not in ws.expect_open
        and (stored := current(op.operation_id)) is not None
        and stored.status.is_terminal
    }
    if not dropped:
        return ws, None
    kept = tuple(op for op in ws.operations if op.operation_id not in dropped)
    events = tuple(e for e in ws.events if e.operation_id not in dropped)
    return attrs.evolve(ws, operations=kept, events=events), None


def admit(
    state: FenceState, original: WriteSet, current: Callable[[str], OperationRecord | None]
) -> tuple[WriteSet, CommitResult]:
    """Screen `original` (`screen`) and fence it (`FenceState.admit`): the write to apply and its result.

    An accepted result lists the operations an outside completion had already closed (`dropped`).
    """
    ws, conflict = screen(original, current)
    if conflict is not None:
        return ws, conflict
    result = state.admit(ws)
    if result.ok and len(ws.operations) != len(original.operations):
        kept = {op.operation_id for op in ws.operations}
        result = attrs.evolve(
            result, dropped=tuple(op.operation_id for op in original.operations if op.operation_id not in kept)
        )
    return ws, result


def execution_columns(ws: WriteSet) -> dict[str, Any]:
    """The execution columns a WriteSet sets (token and status are tracked by FenceState)."""
    change = ws.execution
    if change is None:
        return {}
    columns: dict[str, Any] = {}
    if change.result is not None:
        columns["result"] = change.result
    if change.error is not None:
        columns["error"] = json.dumps(change.error.to_dict())
    if change.ended is not None:
        columns["ended"] = change.ended
    if change.invocation_open is not None:
        columns["invocation_open"] = change.invocation_open
    return columns


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
        if self.status != _RUNNING:
            return CommitResult(False, f"execution already {self.status}")
        change = ws.execution
        if change is not None:
            if change.bump_token:
                self.token += 1
            if change.status is not None:
                self.status = change.status.value
        self.next_event_id += len(ws.events)
        return CommitResult(True, token=self.token)


#: the stored text of a running execution's status
_RUNNING = ExecutionStatus.RUNNING.value


class StoreError(Exception):
    """The store cannot be opened or used (bad path, not a durable store, ...)."""


class Store(ABC):
    url: str
    #: many engine processes may run on this store at once: each joins as a member with a lease
    shared: bool = False

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
        parent: tuple[str, str] | None = None,
        tenant_id: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Create an execution, or return the one already started under `name` or this id (False).

        `parent` is (execution id, operation id) of the chained invoke that started it.
        """

    @abstractmethod
    def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    @abstractmethod
    def list_executions(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]: ...

    def page_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        """One page of executions, newest first by (created, execution_id), that match `query`.

        Keyset paging: the next page is `attrs.evolve(query, before=page[-1].cursor)`, so a page costs
        the same at the millionth execution as at the first.  This default filters `list_executions`;
        a store with an index (SQLite) answers it from the index.
        """
        records = [r for r in self.list_executions(query.status, limit=1_000_000_000) if query.matches(r)]
        records.sort(key=lambda r: (r.created, r.execution_id), reverse=True)
        return records[: query.limit]

    @abstractmethod
    def load_operations(self, execution_id: str) -> list[OperationRecord]: ...

    def get_operation(self, execution_id: str, operation_id: str) -> OperationRecord | None:
        """One operation as stored (a store may answer this without loading the rest)."""
        return next((op for op in self.load_operations(execution_id) if op.operation_id == operation_id), None)

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

    def ended_children_of_running_callers(self) -> list[ExecutionRecord]:
        """Chained executions that ended while their caller still runs (the caller may not have heard yet)."""
        running = {r.execution_id for r in self.list_executions(ExecutionStatus.RUNNING, limit=1_000_000)}
        return [
            r for r in self.list_executions(limit=1_000_000)
            if r.parent_execution_id in running and r.status.is_terminal
        ]

    @abstractmethod
    def open_invocations(self) -> list[str]:
        """Executions whose last invocation never closed (its process died)."""

    @abstractmethod
    def put_meta(self, key: str, value: str) -> None:
        """Keep a small engine-level value (the last actor topology, for example)."""

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    def secret_key_path(self) -> Path | None:
        """Where the engine keeps its callback-signing key; None: a fresh key per process."""
        return None

    def stored_signing_key(self) -> bytes | None:
        """The callback-signing key kept in the store itself, shared by every engine on it; None: in a file."""
        return None

    def release(self, execution_ids: list[str], wake: bool) -> None:  # noqa: B027 - optional hook
        """Let go of executions this engine holds on a shared store but will not run; `wake`: another should."""

    def acquire_engine_lock(self) -> None:  # noqa: B027 - optional hook
        """Claim the store for this engine process; StoreError if another live engine has it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


#: one encoder for the nested values of a body (an error, an extra)
_encode_body = plain_json_encoder(",", ":")
#: a string as a JSON literal, escaped exactly as json.dumps escapes it
_quote = json.encoder.encode_basestring_ascii


def operation_to_json(op: OperationRecord) -> str:
    """The stored body of `op`: its fields under short keys, those at their defaults left out.

    Bodies written before fields were left out hold every key; both read back alike.  Written as
    text field by field (numbers as `repr`, as json writes them): it runs for every record a flush
    writes, and building a dict for the generic encoder costs about 1.7 times as much.
    """
    # `_value_`, the member's stored value, is what `.value` returns, without the property call
    parts = ['{"t":"', op.operation_type._value_, '","s":"', op.status._value_, '"']
    if op.parent_id is not None:
        parts += (',"p":', _quote(op.parent_id))
    if op.name is not None:
        parts += (',"n":', _quote(op.name))
    if op.sub_type is not None:
        parts += (',"st":"', op.sub_type._value_, '"')
    if op.start_timestamp is not None:
        parts += (',"ts":', repr(op.start_timestamp))
    if op.end_timestamp is not None:
        parts += (',"te":', repr(op.end_timestamp))
    if op.result is not None:
        parts += (',"r":', _quote(op.result))
    if op.error is not None:
        parts += (',"e":', _encode_body(op.error.to_dict()))
    if op.attempt:
        parts += (',"a":', repr(op.attempt))
    if op.next_attempt_timestamp is not None:
        parts += (',"na":', repr(op.next_attempt_timestamp))
    if op.scheduled_end_timestamp is not None:
        parts += (',"se":', repr(op.scheduled_end_timestamp))
    if op.wait_seconds is not None:
        parts += (',"w":', repr(op.wait_seconds))
    if op.replay_children:
        parts.append(',"rc":true')
    if op.callback_id is not None:
        parts += (',"cb":', _quote(op.callback_id))
    if op.heartbeat_timeout is not None:
        parts += (',"hb":', repr(op.heartbeat_timeout))
    if op.heartbeat_deadline is not None:
        parts += (',"hd":', repr(op.heartbeat_deadline))
    if op.extra is not None:
        parts += (',"x":', _encode_body(op.extra))
    parts.append("}")
    return "".join(parts)


#: enum members by value: a dict lookup, where calling the enum costs several frames (every load decodes each)
_TYPES = {member.value: member for member in OperationType}
_STATUSES = {member.value: member for member in OperationStatus}
_SUB_TYPES = {member.value: member for member in OperationSubType}


#: bodies up to this size are decoded once (a cache of at most about 32 MB of them); larger ones each time
_CACHED_BODY_BYTES = 2048


def operation_from_json(operation_id: str, text: str) -> OperationRecord:
    """The record a stored body describes.

    Records are immutable, so one decoded body serves every later load of
    it: an invocation's start reloads its whole execution, most of it
    unchanged since the last.
    """
    if len(text) <= _CACHED_BODY_BYTES:
        return _decoded_once(operation_id, text)
    return _decode(operation_id, text)


@functools.lru_cache(maxsize=16_384)
def _decoded_once(operation_id: str, text: str) -> OperationRecord:
    return _decode(operation_id, text)


def _decode(operation_id: str, text: str) -> OperationRecord:
    d = json.loads(text)
    sub_type, error = d.get("st"), d.get("e")
    return OperationRecord(
        operation_id=operation_id,
        operation_type=_TYPES[d["t"]],
        status=_STATUSES[d["s"]],
        parent_id=d.get("p"),
        name=d.get("n"),
        sub_type=_SUB_TYPES[sub_type] if sub_type else None,
        start_timestamp=d.get("ts"),
        end_timestamp=d.get("te"),
        result=d.get("r"),
        error=ErrorObject.from_dict(error) if error is not None else None,
        attempt=d.get("a", 0),
        next_attempt_timestamp=d.get("na"),
        scheduled_end_timestamp=d.get("se"),
        wait_seconds=d.get("w"),
        replay_children=d.get("rc", False),
        callback_id=d.get("cb"),
        heartbeat_timeout=d.get("hb"),
        heartbeat_deadline=d.get("hd"),
        extra=d.get("x"),
    )
