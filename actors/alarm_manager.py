"""AlarmManager: who wakes executions.  A component apart from checkpoint storage.

Owns: one alarm (a due time) per execution.  Takes: SetAlarm, DeleteAlarm,
Tick, DispatcherIdle, NextAlarm.  Sends: one Ready(all due, alarm=True) per
tick to the Dispatcher, and AlarmFired to the AlarmClient for each alarm let go.

With a virtual clock that is skipping, an idle engine (nothing running,
nothing ready) jumps the clock to the earliest alarm and fires it at once.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.due_queue import DueQueue
from actors.messages import AlarmFired, DeleteAlarm, DispatcherIdle, NextAlarm, Ready, SetAlarm, Tick
from actors.topology import Topology, TrackedActor
from durable.clock import Clock, VirtualClock


class AlarmManager(TrackedActor):
    def __init__(self, topology: Topology, clock: Clock) -> None:
        super().__init__(topology, "engine")
        self.clock = clock
        self.alarms: DueQueue[str] = DueQueue()
        self.idle = True
        self.dispatcher: pykka.ActorRef[Any] | None = None
        self.client: pykka.ActorRef[Any] | None = None
        self.fired = 0

    def connect(self, dispatcher: pykka.ActorRef[Any], client: pykka.ActorRef[Any]) -> None:
        self.dispatcher = dispatcher
        self.client = client

    def handle(self, message: Any) -> Any:
        match message:
            case SetAlarm(execution_id, due):
                self.alarms.set(execution_id, due)
                self._skip_if_idle()
            case DeleteAlarm(execution_id):
                self.alarms.remove(execution_id)
            case Tick(now):
                self._fire(now)
                self._skip_if_idle()
            case DispatcherIdle(idle):
                self.idle = idle
                self._skip_if_idle()
            case NextAlarm():
                return self.alarms.earliest()
            case _:
                raise TypeError(f"AlarmManager got an unexpected message {message!r}")
        return None

    def _fire(self, now: float) -> None:
        due = self.alarms.pop_due(now)
        if not due or self.dispatcher is None:
            return
        self.fired += len(due)
        self.send(self.dispatcher, Ready(tuple(eid for eid, _ in due), alarm=True))
        if self.client is not None:
            for eid, when in due:
                self.send(self.client, AlarmFired(eid, when))
        self.idle = False

    def _skip_if_idle(self) -> None:
        clock = self.clock
        if not (self.idle and isinstance(clock, VirtualClock) and clock.skipping):
            return
        earliest = self.alarms.earliest()
        if earliest is None:
            return
        clock.advance_to(earliest)
        self._fire(clock.now())
