"""ExecutionState: the operations of one execution during one invocation.

Owns: the operations map of that execution (the only copy in memory), the
due times of its timers (so a refresh touches only what is due, not every
operation), and the invocation's fencing token.  Takes: Lookup and Snapshot (asked from handler
threads), Checkpoint, FireDueTimers, EndInvocation.  Sends: Persist to the
CheckpointWriter; for the closing write, PrepareAlarm to the AlarmClient,
which forwards the Persist once any move-earlier has gone out.

A checkpoint is applied to the map as it is forwarded, so the next request
from the same invocation sees it; the handler's future resolves only once
the write is committed.  A rejected write fences the whole invocation, and a
new invocation starts from the store, so an optimistic map is never reused.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.due_queue import DueQueue
from actors.messages import (
    Checkpoint,
    Committed,
    EndInvocation,
    FireDueTimers,
    Lookup,
    Persist,
    PrepareAlarm,
    Snapshot,
)
from actors.replies import reject, resolve
from actors.topology import Topology, TrackedActor
from durable.clock import Clock
from durable.engine.history import HistoryEvent, error_details, result_details
from durable.engine.transitions import apply_update, fire_due
from durable.lambda_service import Operation
from durable.stores.base import CommitResult, ExecutionChange, ExecutionStatus, WriteSet


class ExecutionState(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        execution_id: str,
        token: int,
        operations: list[Operation],
        deadline: float | None,
        clock: Clock,
        writer: pykka.ActorRef[Any],
        alarm_client: pykka.ActorRef[Any],
        parent: str | None = None,
    ) -> None:
        super().__init__(topology, execution_id, parent)
        self.execution_id = execution_id
        self.token = token
        self.ops: dict[str, Operation] = {}
        self.due: DueQueue[str] = DueQueue()
        self._remember(operations)
        self.deadline = deadline
        self.clock = clock
        self.writer = writer
        self.alarm_client = alarm_client

    def handle(self, message: Any) -> Any:
        match message:
            case Lookup(operation_id):
                return self.ops.get(operation_id)
            case Snapshot():
                return dict(self.ops)
            case Checkpoint():
                self._checkpoint(message)
            case FireDueTimers(reply_to, notify, tag):
                now = self.clock.now()
                changed, events = fire_due([self.ops[key] for key, _ in self.due.pop_due(now)], now)
                if not changed:
                    done = CommitResult(True, token=self.token)
                    resolve(reply_to, done)
                    if notify is not None:
                        self.send(notify, Committed(tag, done))
                    return None
                self._persist(changed, events, reply_to, notify, tag)
            case EndInvocation(outcome, reply_to):
                self._end(outcome.status, outcome.result, outcome.error, outcome.started, reply_to)
            case _:
                raise TypeError(f"ExecutionState got an unexpected message {message!r}")
        return None

    def _remember(self, operations: list[Operation]) -> None:
        """Take new records into the map, and their due times into the due queue."""
        for op in operations:
            self.ops[op.operation_id] = op
            due = op.due_timestamp
            if due is None:
                self.due.remove(op.operation_id)
            else:
                self.due.set(op.operation_id, due)

    def _checkpoint(self, message: Checkpoint) -> None:
        now = self.clock.now()
        changed: dict[str, Operation] = {}
        events: list[HistoryEvent] = []
        try:
            for update in message.updates:
                current = changed.get(update.operation_id) or self.ops.get(update.operation_id)
                op, new_events = apply_update(current, update, now)
                changed[op.operation_id] = op
                events.extend(new_events)
        except Exception as error:
            reject(message.reply_to, error)
            return
        self._persist(list(changed.values()), events, message.reply_to)

    def _persist(
        self,
        changed: list[Operation],
        events: list[HistoryEvent],
        reply_to: Any,
        notify: pykka.ActorRef[Any] | None = None,
        tag: Any = None,
    ) -> None:
        self._remember(changed)
        ws = WriteSet(self.execution_id, self.token, tuple(changed), tuple(events))
        self.send(self.writer, Persist(ws, reply_to, notify, tag))

    def _end(self, status: str, result: str | None, error: Any, started: float, reply_to: Any) -> None:
        now = self.clock.now()
        invocation: dict[str, Any] = {"StartTimestamp": started, "EndTimestamp": now, "RequestId": str(self.token)}
        events = [HistoryEvent("InvocationCompleted", now, invocation)]
        if status == "SUCCEEDED":
            events.append(HistoryEvent("ExecutionSucceeded", now, result_details(result)))
            change = ExecutionChange(ExecutionStatus.SUCCEEDED, result=result, ended=now, invocation_open=False)
            alarm = None
        elif status == "FAILED":
            events.append(HistoryEvent("ExecutionFailed", now, error_details(error)))
            change = ExecutionChange(ExecutionStatus.FAILED, error=error, ended=now, invocation_open=False)
            alarm = None
        else:
            change = ExecutionChange(invocation_open=False)
            dues = [d for d in (self.due.earliest(), self.deadline) if d is not None]
            alarm = min(dues) if dues else None
        ws = WriteSet(self.execution_id, self.token, (), tuple(events), change, alarm)
        self.send(self.alarm_client, PrepareAlarm(self.execution_id, alarm, Persist(ws, reply_to)))
