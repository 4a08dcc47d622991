"""AlarmManager: who wakes executions.  A component apart from checkpoint storage.

Owns: one alarm (a due time) per execution, and the sequence number of the
last update applied to it, and whether a virtual clock may skip.  Takes:
SetAlarm, DeleteAlarm, Tick, DispatcherIdle, SkipTime, NextAlarm.  Asks the Ticker for a Tick
at its earliest alarm (`TickAt`), so an alarm fires on time, and hears the
regular ticks only while it may skip time (a record it waits for may land
between two of its messages).  Sends: one Ready(all due, alarm=True) per tick to
the Dispatcher, AlarmAck for every update, and AlarmFired to the AlarmClient
for each alarm let go.  An update older than the last one applied to that
execution is acknowledged and ignored: a late duplicate cannot undo a newer
update.  The numbers of executions with no alarm are kept in a bounded LRU:
forgetting one can only let a stale set through, an early wake-up that the
engine re-checks, never a lost alarm.

With a virtual clock and SkipTime(True), an idle engine (nothing running,
nothing ready) jumps the clock to the first timer (a wait, a retry, a poll:
`next_timer`) of the executions it holds alarms for, and fires what is then
due.  It never jumps to a timeout: timeouts are measured in real time.  The
switch is a message, not a flag on the clock, so it is ordered behind the
DispatcherIdle(False) of any work handed to the engine before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka
from cachetools import LRUCache

from actors.due_queue import DueQueue
from actors.messages import (
    AlarmAck,
    AlarmFired,
    DeleteAlarm,
    DispatcherIdle,
    NextAlarm,
    Ready,
    SetAlarm,
    SkipTime,
    Tick,
)
from actors.ticker import TickAt, Ticker
from actors.topology import Topology, TrackedActor
from durable.clock import Clock, VirtualClock

IDLE_SEQS = 1_000_000


class AlarmManager(TrackedActor):
    def __init__(
        self, topology: Topology, clock: Clock, next_timer: Callable[[str], float | None] = lambda eid: None
    ) -> None:
        super().__init__(topology, "engine")
        self.clock = clock
        self.next_timer = next_timer
        self.alarms: DueQueue[str] = DueQueue()
        self.seqs: dict[str, int] = {}
        self.idle_seqs: LRUCache[str, int] = LRUCache(maxsize=IDLE_SEQS)
        self.idle = True
        self.dispatcher: pykka.ActorRef[Any] | None = None
        self.client: pykka.ActorRef[Any] | None = None
        self.fired = 0
        self.skipping = False
        self.ticker: Ticker | None = None
        self.wakeup = TickAt(None, self.actor_ref)

    def connect(
        self, dispatcher: pykka.ActorRef[Any], client: pykka.ActorRef[Any], ticker: Ticker | None = None
    ) -> None:
        self.dispatcher = dispatcher
        self.client = client
        self.ticker = ticker
        self.wakeup = TickAt(ticker, self.actor_ref)

    def handle(self, message: Any) -> Any:
        match message:
            case SetAlarm(execution_id, due, seq):
                if self._fresh(execution_id, seq):
                    self.alarms.set(execution_id, due)
                    self._wake_on_time()
                self._ack(execution_id, seq)
                self._skip_if_idle()
            case DeleteAlarm(execution_id, seq):
                if self._fresh(execution_id, seq):
                    self.alarms.remove(execution_id)
                    self.idle_seqs[execution_id] = self.seqs.pop(execution_id)
                self._ack(execution_id, seq)
            case Tick(now):
                self.wakeup.arrived(now)
                self._fire(now)
                self._wake_on_time()
                self._skip_if_idle()
            case DispatcherIdle(idle):
                self.idle = idle
                self._skip_if_idle()
            case SkipTime(on):
                if self.ticker is not None and on != self.skipping:
                    (self.ticker.subscribe if on else self.ticker.unsubscribe)(self.actor_ref)
                self.skipping = on
                self._skip_if_idle()
            case NextAlarm():
                return self.alarms.earliest()
            case _:
                raise TypeError(f"AlarmManager got an unexpected message {message!r}")
        return None

    def _fresh(self, execution_id: str, seq: int) -> bool:
        last = self.seqs.get(execution_id, self.idle_seqs.get(execution_id, 0))
        if seq < last:
            return False
        self.idle_seqs.pop(execution_id, None)
        self.seqs[execution_id] = seq
        return True

    def _ack(self, execution_id: str, seq: int) -> None:
        if self.client is not None:
            self.send(self.client, AlarmAck(execution_id, seq))

    def _wake_on_time(self) -> None:
        self.wakeup.ask(self.alarms.earliest())

    def _fire(self, now: float) -> None:
        due = self.alarms.pop_due(now)
        if not due or self.dispatcher is None:
            return
        self.fired += len(due)
        self.send(self.dispatcher, Ready(tuple(eid for eid, _ in due), alarm=True))
        for eid, when in due:
            self.idle_seqs[eid] = self.seqs.pop(eid, 0)
            if self.client is not None:
                self.send(self.client, AlarmFired(eid, when))
        self.idle = False

    def _skip_if_idle(self) -> None:
        clock = self.clock
        if not (self.idle and self.skipping and isinstance(clock, VirtualClock)):
            return
        timers = [due for eid, _ in self.alarms.in_order() if (due := self.next_timer(eid)) is not None]
        if not timers:
            return
        clock.advance_to(min(timers))
        self._fire(clock.now())
