"""ExecutionState: the operations of one execution during one invocation.

Owns: the operations map of that execution (the only copy in memory), an
index of which ids are under which (a branch's records in one step), the
due times of its timers (so a refresh touches only what is due, not every
operation), and the invocation's fencing token.  Takes: Lookup (answered on
its slot), Snapshot (asked by the invoker), Checkpoint, FireDueTimers, EndInvocation, OutsideChange (a callback
or invoked execution completed while this invocation runs; forwarded to the
BatchParents that Watch it), Woken (the same, written by another engine: it reads the change from the store),
Committed (timeouts it fired) and SendUnsent (from the Ticker, which it asks for one
when an unwaited checkpoint has nothing to ride with).  Sends: Persist to the CheckpointWriter; for the closing
write, PrepareAlarm to the AlarmClient, which forwards the Persist once any
move-earlier has gone out; BranchRecords to a BatchParent whose FireDueTimers
named the branches it resumes.  It mints each new callback's id.

A checkpoint is applied to the map as it is forwarded, so the next request
from the same invocation sees it; the handler's future resolves only once
the write is committed.  A rejected write fences the whole invocation, and a
new invocation starts from the store, so an optimistic map is never reused.

Callbacks and chained invokes can also be closed from outside.  An outside
change never overwrites a record this map already holds as closed, and a
timeout this actor fires that lost the race to an outside completion comes
back as `dropped`: the map takes the stored record before anyone is answered.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.due_queue import DueQueue
from actors.messages import (
    BranchRecords,
    Checkpoint,
    Committed,
    EndInvocation,
    FireDueTimers,
    Lookup,
    OutcomeStatus,
    OutsideChange,
    Persist,
    PrepareAlarm,
    RecordsUnder,
    SendUnsent,
    Snapshot,
    TimersFired,
    Watch,
    Woken,
)
from actors.pool import ActorPool, InlineActor
from actors.replies import reject, resolve
from actors.ticker import Ticker
from actors.topology import Topology
from durable.clock import Clock, skew
from durable.core.callback_ids import CallbackIds
from durable.core.history import HistoryEvent, error_details, result_details
from durable.core.operation_ids import ancestors
from durable.core.records import OperationAction, OperationRecord, OperationStatus, OperationType
from durable.core.transitions import apply_update, fire_due
from durable.core.writes import UNCHANGED, Unchanged
from durable.exceptions import CheckpointRejectedError, OrphanedChildException
from durable.stores.base import OUTSIDE_CLOSED, CommitResult, ExecutionChange, ExecutionStatus, Store, WriteSet

_CLOSING = frozenset({OperationAction.SUCCEED, OperationAction.FAIL})


class ExecutionState(InlineActor):
    def __init__(
        self,
        topology: Topology,
        pool: ActorPool,
        execution_id: str,
        token: int,
        operations: list[OperationRecord],
        deadline: float | None,
        clock: Clock,
        writer: pykka.ActorRef[Any],
        alarm_client: pykka.ActorRef[Any],
        store: Store,
        callback_ids: CallbackIds,
        ticker: Ticker,
        parent: str | None = None,
    ) -> None:
        super().__init__(topology, pool, execution_id, parent)
        self.ticker = ticker
        #: records and events of checkpoints nobody waits for, not yet sent to the writer (`_writeset`)
        self.unsent: dict[str, OperationRecord] = {}
        self.unsent_events: list[HistoryEvent] = []
        #: a SendUnsent is on its way from the Ticker (one at a time, however many steps start meanwhile)
        self.tick_asked = False
        self.execution_id = execution_id
        self.token = token
        self.ops: dict[str, OperationRecord] = {}
        self.under: dict[str, set[str]] = {}
        self.due: DueQueue[str] = DueQueue()
        self.deadline = deadline
        self.clock = clock
        self._remember(operations)
        self.writer = writer
        self.alarm_client = alarm_client
        self.store = store
        self.callback_ids = callback_ids
        self.watchers: dict[str, pykka.ActorRef[Any]] = {}
        #: operations under a child context that completed while they were open (a map's unfinished branches
        #: after a first-successful ended it): their checkpoints are refused, as the SDK refuses them
        self.orphans: set[str] = set()

    def handle(self, message: Any) -> Any:
        match message:
            case Lookup(operation_id, reply_to):
                resolve(reply_to, self.ops.get(operation_id))
            case Snapshot():
                return dict(self.ops)
            case Checkpoint():
                self._checkpoint(message)
            case SendUnsent():
                self.tick_asked = False
                if self.unsent or self.unsent_events:
                    self.send(self.writer, Persist(self._writeset([], [])))
            case FireDueTimers(reply_to, notify, tag, views_of):
                now, wall = self.clock.now(), self.clock.wall()
                popped = [self.ops[key] for key, _ in self.due.pop_due(now)]
                fired, events = fire_due(popped, now, wall)
                fired_ids = {op.operation_id for op in fired}
                self._remember([op for op in popped if op.operation_id not in fired_ids])
                # a retry that became ready has no event and follows from its stored due time: it rides with
                # the execution's next write (its attempt's start, as a rule) instead of costing one of its own;
                # the wave still waits for what was queued before it, so branches never outrun the writer
                ready = [op for op in fired if op.status is OperationStatus.READY]
                changed = [op for op in fired if op.status is not OperationStatus.READY]
                queued = self._writeset([], []) if not changed and (self.unsent or self.unsent_events) else None
                if ready:
                    self._persist(ready, [], None)
                if queued is not None:
                    self._send_views(notify, tag, views_of)
                    self.send(self.writer, Persist(queued, reply_to, notify, tag))
                elif not changed:
                    self._answer(reply_to, notify, tag, CommitResult(True, token=self.token), views_of)
                elif any(op.operation_type in OUTSIDE_CLOSED for op in changed):
                    self._remember(changed)
                    ws = self._writeset(changed, events)
                    then = TimersFired(reply_to, notify, tag, views_of)
                    self.send(self.writer, Persist(ws, notify=self.actor_ref, tag=then))
                else:
                    self._remember(changed)
                    self._send_views(notify, tag, views_of)
                    ws = self._writeset(changed, events)
                    self.send(self.writer, Persist(ws, reply_to, notify, tag))
            case Committed(TimersFired(reply_to, notify, tag, views_of), result):
                for operation_id in result.dropped:
                    stored = self.store.get_operation(self.execution_id, operation_id)
                    if stored is not None:
                        self._remember([stored])
                if not result.ok:
                    reject(reply_to, CheckpointRejectedError(f"checkpoint rejected: {result.reason}"))
                    reply_to = None
                self._answer(reply_to, notify, tag, result, views_of)
            case OutsideChange(_execution_id, operations, _wake):
                self._remember([op for op in operations if self._open(op.operation_id)])
                for watcher in list(self.watchers.values()):
                    self.send(watcher, message)
            case Woken():
                self._read_outside_changes()
            case Watch(watcher, on):
                if on:
                    self.watchers[watcher.actor_urn] = watcher
                else:
                    self.watchers.pop(watcher.actor_urn, None)
            case EndInvocation(outcome, reply_to):
                self._end(outcome.status, outcome.result, outcome.error, outcome.started, reply_to)
            case _:
                raise TypeError(f"ExecutionState got an unexpected message {message!r}")
        return None

    def _answer(
        self, reply_to: Any, notify: pykka.ActorRef[Any] | None, tag: Any, result: CommitResult,
        views_of: tuple[str, ...] = (),
    ) -> None:
        resolve(reply_to, result)
        if notify is not None:
            self._send_views(notify, tag, views_of)
            self.send(notify, Committed(tag, result))

    def _send_views(self, notify: pykka.ActorRef[Any] | None, tag: Any, roots: tuple[str, ...]) -> None:
        """Hand a resuming wave its branches' records, ahead of the refresh's Committed (mailbox order)."""
        if notify is None or not roots:
            return
        views = []
        for root in roots:
            records = {key: self.ops[key] for key in self.under.get(root, ())}
            if root in self.ops:
                records[root] = self.ops[root]
            views.append(RecordsUnder(root, records))
        self.send(notify, BranchRecords(tag, tuple(views)))

    def _read_outside_changes(self) -> None:
        """Another engine closed something here: read back every open callback and invoke from the store."""
        closed = []
        for op in list(self.ops.values()):
            if op.operation_type in OUTSIDE_CLOSED and not op.status.is_terminal:
                stored = self.store.get_operation(self.execution_id, op.operation_id)
                if stored is not None and stored.status.is_terminal:
                    closed.append(stored)
        if closed:
            self.handle(OutsideChange(self.execution_id, tuple(closed), False))

    def _open(self, operation_id: str) -> bool:
        mine = self.ops.get(operation_id)
        return mine is None or not mine.status.is_terminal

    def _remember(self, operations: list[OperationRecord]) -> None:
        """Take new records into the map, and their due times into the due queue."""
        ahead = skew(self.clock)
        for op in operations:
            if op.operation_id not in self.ops:
                for outer in ancestors(op.operation_id):
                    self.under.setdefault(outer, set()).add(op.operation_id)
            self.ops[op.operation_id] = op
            due = op.due_at(ahead)
            if due is None:
                self.due.remove(op.operation_id)
            else:
                self.due.set(op.operation_id, due)

    def _checkpoint(self, message: Checkpoint) -> None:
        now, wall = self.clock.now(), self.clock.wall()
        changed: dict[str, OperationRecord] = {}
        events: list[HistoryEvent] = []
        try:
            for update in message.updates:
                if update.operation_id in self.orphans:
                    raise OrphanedChildException(
                        "Parent context completed, child operation cannot checkpoint", update.operation_id
                    )
                current = changed.get(update.operation_id) or self.ops.get(update.operation_id)
                callback_id = None
                if update.operation_type is OperationType.CALLBACK and update.action is OperationAction.START:
                    callback_id = self.callback_ids.mint(self.execution_id, update.operation_id)
                op, new_events = apply_update(current, update, now, callback_id, wall)
                changed[op.operation_id] = op
                events.extend(new_events)
        except (Exception, OrphanedChildException) as error:
            reject(message.reply_to, error)
            return
        for update in message.updates:
            if update.operation_type is OperationType.CONTEXT and update.action in _CLOSING:
                self.orphans.update(self.under.get(update.operation_id, ()))
        self._persist(list(changed.values()), events, message.reply_to)

    def _persist(self, changed: list[OperationRecord], events: list[HistoryEvent], reply_to: Any) -> None:
        self._remember(changed)
        if reply_to is None:
            if not self.tick_asked:
                self.tick_asked = True
                self.ticker.once(self.actor_ref, SendUnsent())
            for op in changed:
                self.unsent[op.operation_id] = op
            self.unsent_events.extend(events)
            return
        self.send(self.writer, Persist(self._writeset(changed, events), reply_to))

    def _writeset(
        self, changed: list[OperationRecord], events: list[HistoryEvent],
        change: ExecutionChange | None = None, alarm: float | Unchanged | None = UNCHANGED,
    ) -> WriteSet:
        """A write of `changed` and `events`, carrying ahead of them what unwaited checkpoints left unsent.

        A checkpoint no one waits for (a step's start, a condition's retry)
        rides with this execution's next write, as the SDK batches its
        asynchronous checkpoints; the next tick sends it if nothing else does.
        """
        if self.unsent or self.unsent_events:
            records = self.unsent
            for op in changed:
                records[op.operation_id] = op
            changed, events = list(records.values()), [*self.unsent_events, *events]
            self.unsent, self.unsent_events = {}, []
        return WriteSet(self.execution_id, self.token, tuple(changed), tuple(events), change, alarm)

    def _end(self, status: OutcomeStatus, result: str | None, error: Any, started: float, reply_to: Any) -> None:
        now = self.clock.now()
        invocation: dict[str, Any] = {"StartTimestamp": started, "EndTimestamp": now, "RequestId": str(self.token)}
        events = [HistoryEvent("InvocationCompleted", now, invocation)]
        if status is OutcomeStatus.SUCCEEDED:
            events.append(HistoryEvent("ExecutionSucceeded", now, result_details(result)))
            change = ExecutionChange(ExecutionStatus.SUCCEEDED, result=result, ended=now, invocation_open=False)
            alarm = None
        elif status is OutcomeStatus.FAILED:
            events.append(HistoryEvent("ExecutionFailed", now, error_details(error)))
            change = ExecutionChange(ExecutionStatus.FAILED, error=error, ended=now, invocation_open=False)
            alarm = None
        else:
            if status is OutcomeStatus.INTERRUPTED:
                invocation["Error"] = error_details(error)["Error"]
            change = ExecutionChange(invocation_open=False)
            deadline = None if self.deadline is None else self.deadline + skew(self.clock)
            dues = [d for d in (self.due.earliest(), deadline) if d is not None]
            alarm = min(dues) if dues else None
        ws = self._writeset([], events, change, alarm)
        self.send(self.alarm_client, PrepareAlarm(self.execution_id, alarm, Persist(ws, reply_to)))
