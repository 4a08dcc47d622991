"""ExternalEvents: what happens to an execution from outside its invocations.

Owns: nothing durable; its one mailbox puts every outside event of the engine
in one order.  Takes: CallbackSignal (a callback's sender: success, failure,
heartbeat), ExecutionEnded (a chained execution ended: its caller's invoke
operation closes), Committed (its writes).
Sends: a guarded Persist to the CheckpointWriter, then OutsideChange to the
Dispatcher, which forwards it to the running invocation if there is one and
makes the execution ready when it should look.

At most once: each write carries `expect_open=(operation,)`, and the store
applies it only while that operation is still open.  Two completions of one
callback race to the writer; the first commits, the second is a conflict,
whatever this actor read before.  A timeout fired by an invocation at the
same moment is dropped by the same rule (see `stores.base.screen`).
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import (
    CallbackSignal,
    CallbackWritten,
    ChildResultWritten,
    CommitTag,
    Committed,
    ExecutionEnded,
    OutsideChange,
    Persist,
)
from actors.replies import reject, resolve
from actors.topology import Topology, TrackedActor
from durable.clock import Clock
from durable.core.callback_ids import CallbackIds
from durable.core.history import HistoryEvent
from durable.core.records import OperationRecord, OperationType
from durable.core.transitions import CallbackAction, complete_callback, end_chained_invoke
from durable.exceptions import CallbackConflictError, UnknownCallbackError
from durable.stores.base import Store, WriteSet


class ExternalEvents(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        store: Store,
        clock: Clock,
        callback_ids: CallbackIds,
        writer: pykka.ActorRef[Any],
        dispatcher: pykka.ActorRef[Any],
    ) -> None:
        super().__init__(topology, "engine")
        self.store = store
        self.clock = clock
        self.callback_ids = callback_ids
        self.writer = writer
        self.dispatcher = dispatcher

    def handle(self, message: Any) -> Any:
        match message:
            case CallbackSignal():
                self._callback(message)
            case ExecutionEnded(execution_id, reply_to):
                self._child_ended(execution_id, reply_to)
            case Committed(ChildResultWritten(reply_to, execution_id, op), result):
                if result.ok:
                    self.send(self.dispatcher, OutsideChange(execution_id, (op,), True))
                resolve(reply_to, None)
            case Committed(CallbackWritten(reply_to, execution_id, op, wake), result):
                if result.ok:  # the wake-up is queued before the sender hears back: see Engine.skip_time
                    self.send(self.dispatcher, OutsideChange(execution_id, (op,), wake))
                    resolve(reply_to, None)
                elif result.conflict:
                    reject(reply_to, CallbackConflictError(f"callback is already closed ({result.reason})"))
                else:
                    reject(reply_to, CallbackConflictError(f"the execution can no longer take it: {result.reason}"))
            case _:
                raise TypeError(f"ExternalEvents got an unexpected message {message!r}")
        return None

    def _callback(self, signal: CallbackSignal) -> None:
        try:
            execution_id, operation_id = self.callback_ids.open(signal.callback_id)
        except UnknownCallbackError as error:
            reject(signal.reply_to, error)
            return
        op = self.store.get_operation(execution_id, operation_id)
        if op is None or op.operation_type is not OperationType.CALLBACK or op.callback_id != signal.callback_id:
            reject(signal.reply_to, UnknownCallbackError())
            return
        if op.status.is_terminal:
            reject(signal.reply_to, CallbackConflictError(f"callback is already {op.status.value}"))
            return
        execution = self.store.get_execution(execution_id)
        if execution is None or execution.status.is_terminal:
            state = execution.status.value if execution is not None else "gone"
            reject(signal.reply_to, CallbackConflictError(f"the callback's execution is already {state}"))
            return
        done, events = complete_callback(
            op, signal.action, signal.payload, signal.error, self.clock.now(), self.clock.wall()
        )
        if done is op:
            resolve(signal.reply_to, None)
            return
        wake = signal.action is not CallbackAction.HEARTBEAT
        self._write(execution_id, done, events, CallbackWritten(signal.reply_to, execution_id, done, wake))

    def _child_ended(self, execution_id: str, reply_to: Any) -> None:
        child = self.store.get_execution(execution_id)
        parent = child.parent_execution_id if child is not None else None
        op = None
        if child is not None and parent is not None and child.parent_operation_id is not None:
            op = self.store.get_operation(parent, child.parent_operation_id)
        if child is None or parent is None or op is None or op.status.is_terminal or not child.status.is_terminal:
            resolve(reply_to, None)
            return
        done, events = end_chained_invoke(op, child.status.value, child.result, child.error, self.clock.now())
        self._write(parent, done, events, ChildResultWritten(reply_to, parent, done))

    def _write(self, execution_id: str, op: OperationRecord, events: list[HistoryEvent], tag: CommitTag) -> None:
        ws = WriteSet(execution_id, None, (op,), tuple(events), expect_open=(op.operation_id,))
        self.send(self.writer, Persist(ws, notify=self.actor_ref, tag=tag))
