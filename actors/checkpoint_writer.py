"""CheckpointWriter: the one writer of a store, committing in groups.

Owns: the store's write side and the queue of writes not yet committed.
Takes: Persist, CreateExecution, BeginInvocation, SaveMeta, WriterStats, Flush (from itself).
Sends: each Persist's answer (its future, or Committed to `notify`);
AlarmCommitted to the AlarmClient after a commit that changed a stored alarm;
ExecutionEnded to the CompletionBoard after a commit that ended an execution.

Group commit: a Persist is queued and, if more mail waits behind it and no
flush is pending, a Flush is told to self.  The Flush lands behind every
Persist already in the mailbox, so everything that arrived while the previous
transaction ran is committed in the next single transaction; a Persist with
nothing behind it is committed at once.  The writer is a BorrowingActor: a waiting
sender that finds it idle commits on its own thread (a lone step's
checkpoint costs no hand-off), and a backlog is worked off by the writer's
own thread.  A request that is not a Persist first commits what is queued,
so the store sees writes in mailbox order: an outside completion told
before an invocation begins is in the state that invocation loads.
"""

from __future__ import annotations

from typing import Any

import pykka
from loguru import logger

from actors.messages import (
    AlarmCommitted,
    BeginInvocation,
    Committed,
    CreateExecution,
    ExecutionEnded,
    Flush,
    Persist,
    SaveMeta,
    WriterStats,
)
from actors.pool import ActorPool, BorrowingActor
from actors.replies import reject, resolve
from actors.topology import Topology
from durable.clock import Clock
from durable.exceptions import CheckpointRejectedError
from durable.stores.base import UNCHANGED, CommitResult, Store


class CheckpointWriter(BorrowingActor):
    def __init__(self, topology: Topology, store: Store, clock: Clock) -> None:
        super().__init__(topology, ActorPool(1, "durable-writer", elastic=False), store.url)
        self.store = store
        self.clock = clock
        self.pending: list[Persist] = []
        self.flush_scheduled = False
        self.transactions = 0
        self.alarm_client: pykka.ActorRef[Any] | None = None
        self.ended_listeners: tuple[pykka.ActorRef[Any], ...] = ()

    def connect(self, alarm_client: pykka.ActorRef[Any], *ended_listeners: pykka.ActorRef[Any]) -> None:
        self.alarm_client = alarm_client
        self.ended_listeners = ended_listeners

    def handle(self, message: Any) -> Any:
        match message:
            case Persist():
                self.pending.append(message)
                if self.actor_inbox.empty():
                    self._flush()  # nothing behind it to group with: a Flush told now would be the next message
                elif not self.flush_scheduled:
                    self.flush_scheduled = True
                    self.actor_ref.tell(Flush())
            case Flush():
                self.flush_scheduled = False
                self._flush()
            case CreateExecution():
                self._flush()
                try:
                    resolve(
                        message.reply_to,
                        self.store.create_execution(
                            message.execution_id, message.function_name, message.input, message.name,
                            message.deadline, self.clock.now(), message.start_event, message.parent,
                            message.tenant_id,
                        ),
                    )
                except Exception as error:
                    reject(message.reply_to, error)
            case BeginInvocation():
                self._flush()
                try:
                    resolve(message.reply_to, self.store.begin_invocation(message.execution_id, self.clock.now()))
                except Exception as error:
                    reject(message.reply_to, error)
            case SaveMeta(key, value, reply_to):
                try:
                    self.store.put_meta(key, value)
                    resolve(reply_to, None)
                except Exception as error:
                    reject(reply_to, error)
            case WriterStats():
                return self.transactions
            case _:
                raise TypeError(f"CheckpointWriter got an unexpected message {message!r}")
        return None

    def on_stop(self) -> None:
        super().on_stop()
        self.pool.shutdown()

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            results = self.store.commit([p.writeset for p in batch])
            self.transactions += 1
        except Exception as error:
            logger.opt(exception=error).error("checkpoint commit of {} write sets failed", len(batch))
            for request in batch:
                reject(request.reply_to, error)
                if request.notify is not None:
                    self.send(request.notify, Committed(request.tag, CommitResult(False, str(error))))
            return
        for request, result in zip(batch, results, strict=True):
            self._answer(request, result)

    def _answer(self, request: Persist, result: CommitResult) -> None:
        ws = request.writeset
        if result.ok:
            if ws.alarm is not UNCHANGED and self.alarm_client is not None:
                self.send(self.alarm_client, AlarmCommitted(ws.execution_id, ws.alarm))
            if ws.execution is not None and ws.execution.status is not None:
                for listener in self.ended_listeners:
                    self.send(listener, ExecutionEnded(ws.execution_id))
            resolve(request.reply_to, result)
        else:
            reject(
                request.reply_to,
                CheckpointRejectedError(f"checkpoint for execution {ws.execution_id} rejected: {result.reason}"),
            )
        if request.notify is not None:
            self.send(request.notify, Committed(request.tag, result))
