"""AlarmClient: the ordered stream of alarm updates from this engine to the alarm manager.

Owns: the per-execution chains of alarm updates (`actors.alarm_chain`), the
retry and acknowledgement deadlines.  Takes: PrepareAlarm (before a commit
that changes the stored alarm), AlarmCommitted (after it), AlarmAck and
AlarmNack (the manager's answers), AlarmFired (the manager let one go),
Tick (asked of the Ticker for its earliest deadline).  Sends: SetAlarm and
DeleteAlarm (with sequence numbers) to the AlarmManager, and each held
Persist to the CheckpointWriter.

Invariant, after quiescence: the manager's alarm for an execution is never
later than the stored one and never missing while one is stored.  A move
earlier goes out before its commit (after any update still pending for that
execution); a move later or a delete goes out after the commit.  One update
per execution is in flight at a time, each carries a sequence number the
manager checks, so an old delete can never overtake a newer set, whatever
the manager's latency, reordering or failures.  An update not acknowledged
within ACK_TIMEOUT counts as failed and is retried; the chain's bounded
retries end in a resync from the store.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.alarm_chain import AlarmChains, Effect, Release, Resync, RetryAfter, SendUpdate
from actors.due_queue import DueQueue
from actors.messages import (
    AlarmAck,
    AlarmCommitted,
    AlarmFired,
    AlarmNack,
    DeleteAlarm,
    PrepareAlarm,
    SetAlarm,
    Tick,
)
from actors.ticker import TickAt, Ticker
from actors.topology import Topology, TrackedActor
from durable.clock import Clock
from durable.stores.base import Store

ACK_TIMEOUT = 5.0


class AlarmClient(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        manager: pykka.ActorRef[Any],
        writer: pykka.ActorRef[Any],
        clock: Clock,
        store: Store | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        """`ticker`: asked for a Tick at the earliest retry or acknowledgement deadline (None: Ticks are told)."""
        super().__init__(topology, "engine")
        self.manager = manager
        self.writer = writer
        self.clock = clock
        self.store = store
        self.chains = AlarmChains()
        self.retries: DueQueue[tuple[str, int]] = DueQueue()
        self.unacked: DueQueue[tuple[str, int]] = DueQueue()
        self.wakeup = TickAt(ticker, self.actor_ref)

    def handle(self, message: Any) -> Any:
        match message:
            case PrepareAlarm(execution_id, due, then):
                self._run(self.chains.prepare(execution_id, due, then))
            case AlarmCommitted(execution_id, due):
                self._run(self.chains.committed(execution_id, due))
            case AlarmAck(execution_id, seq):
                self.unacked.remove((execution_id, seq))
                self._run(self.chains.acked(execution_id, seq))
            case AlarmNack(execution_id, seq):
                self.unacked.remove((execution_id, seq))
                self._run(self.chains.failed(execution_id, seq))
            case AlarmFired(execution_id, due):
                self._run(self.chains.fired(execution_id, due))
            case Tick(now):
                self.wakeup.arrived(now)
                for (execution_id, seq), _ in self.unacked.pop_due(now):
                    self._run(self.chains.failed(execution_id, seq))
                for (execution_id, seq), _ in self.retries.pop_due(now):
                    self._run(self.chains.retry(execution_id, seq))
            case _:
                raise TypeError(f"AlarmClient got an unexpected message {message!r}")
        dues = [due for due in (self.unacked.earliest(), self.retries.earliest()) if due is not None]
        self.wakeup.ask(min(dues) if dues else None)
        return None

    def _run(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case SendUpdate(execution_id, due, seq):
                    self.unacked.set((execution_id, seq), self.clock.now() + ACK_TIMEOUT)
                    update = DeleteAlarm(execution_id, seq) if due is None else SetAlarm(execution_id, due, seq)
                    self.send(self.manager, update)
                case Release(write):
                    self.send(self.writer, write)
                case RetryAfter(execution_id, seq, delay):
                    self.retries.set((execution_id, seq), self.clock.now() + delay)
                case Resync(execution_id):
                    record = self.store.get_execution(execution_id) if self.store is not None else None
                    stored = record.alarm if record is not None and not record.status.is_terminal else None
                    self._run(self.chains.resync(execution_id, stored))
