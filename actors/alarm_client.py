"""AlarmClient: the ordered stream of alarm updates from this engine to the alarm manager.

Owns: what the manager was last told for each execution.  Takes:
PrepareAlarm (before a commit that changes the stored alarm), AlarmCommitted
(after it), AlarmFired (the manager let one go).  Sends: SetAlarm and
DeleteAlarm to the AlarmManager, and the held Persist to the CheckpointWriter.

Invariant, after quiescence: the manager's alarm for an execution is never
later than the stored one and never missing while one is stored.  A move
earlier goes out before the commit, so a crash between the two only causes an
early (harmless) wake-up; a move later or a delete goes out after the commit.
All of them leave in mailbox order, so an old delete cannot overtake a newer set.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import AlarmCommitted, AlarmFired, DeleteAlarm, PrepareAlarm, SetAlarm
from actors.topology import Topology, TrackedActor


class AlarmClient(TrackedActor):
    def __init__(self, topology: Topology, manager: pykka.ActorRef[Any], writer: pykka.ActorRef[Any]) -> None:
        super().__init__(topology, "engine")
        self.manager = manager
        self.writer = writer
        self.told: dict[str, float] = {}

    def handle(self, message: Any) -> Any:
        match message:
            case PrepareAlarm(execution_id, due, then):
                told = self.told.get(execution_id)
                if due is not None and (told is None or due < told):
                    self._set(execution_id, due)
                self.send(self.writer, then)
            case AlarmCommitted(execution_id, due):
                told = self.told.get(execution_id)
                if due is None:
                    if told is not None:
                        del self.told[execution_id]
                        self.send(self.manager, DeleteAlarm(execution_id))
                elif told != due:
                    self._set(execution_id, due)
            case AlarmFired(execution_id, due):
                if self.told.get(execution_id) == due:
                    del self.told[execution_id]
            case _:
                raise TypeError(f"AlarmClient got an unexpected message {message!r}")
        return None

    def _set(self, execution_id: str, due: float) -> None:
        self.told[execution_id] = due
        self.send(self.manager, SetAlarm(execution_id, due))
