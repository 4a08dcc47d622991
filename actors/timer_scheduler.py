"""TimerScheduler: the due times of one invocation's in-process timers.

Owns: a DueQueue of keys (a branch or an operation) and their due times.
Takes: ScheduleResume, Tick.  Sends: one ResumeWave with every
key due at a tick to its owner.  Popping the wave and sending it happen in
one handler, so a wave is atomic by construction, and registering a timer
never waits on anything: there is no lock to wait on.  An InlineActor: a
timer is set on the suspending branch's thread; a Tick, which comes from
the Ticker's thread, is handled on the pool.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.due_queue import DueQueue
from actors.messages import ResumeWave, ScheduleResume, Tick
from actors.pool import ActorPool, InlineActor
from actors.topology import Topology


class TimerScheduler(InlineActor):
    pooled_from_kept_threads = True

    def __init__(
        self, topology: Topology, pool: ActorPool, owner: pykka.ActorRef[Any], name: str, parent: str | None = None,
        depth: int = 0,
    ) -> None:
        super().__init__(topology, pool, name, parent)
        self.depth = depth
        self.owner = owner
        self.timers: DueQueue[str] = DueQueue()

    def handle(self, message: Any) -> Any:
        match message:
            case ScheduleResume(key, due):
                self.timers.set(key, due)
            case Tick(now):
                wave = self.timers.pop_due(now)
                if wave:
                    self.send(self.owner, ResumeWave(tuple(key for key, _ in wave), now))
            case _:
                raise TypeError(f"TimerScheduler got an unexpected message {message!r}")
        return None
