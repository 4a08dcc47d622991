"""One invocation, as the handler's thread sees it: lookups, checkpoints, the replay flag.

Reads come from a snapshot taken when the invocation starts where they can:
a terminal record never changes.  Anything else is asked of the
ExecutionState, which also knows what this invocation wrote since (a map
branch re-run after its timer fired replays its own fresh checkpoints).  Writes are Checkpoint messages; a
blocking one waits on a future that the CheckpointWriter resolves after the
commit.
"""

from __future__ import annotations

from typing import Any, cast

import pykka

from actors.messages import Checkpoint, Lookup
from actors.replies import Answer
from actors.topology import Topology
from durable.clock import Clock
from durable.core.records import OperationRecord, RecordUpdate


class Invocation:
    def __init__(
        self,
        execution_arn: str,
        state: pykka.ActorRef[Any],
        snapshot: dict[str, OperationRecord],
        topology: Topology,
        clock: Clock,
        engine: Any = None,
        tenant_id: str | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.state = state
        self.snapshot = snapshot
        self.topology = topology
        self.clock = clock
        self.engine = engine
        self.tenant_id = tenant_id
        self.unreplayed = {op_id for op_id in snapshot if _replayable(op_id, snapshot)}

    def is_replaying(self) -> bool:
        """True until the handler has passed every completed operation it will revisit."""
        return bool(self.unreplayed)

    def lookup(self, operation_id: str) -> OperationRecord | None:
        """The recorded operation at this id, or None for new work (which ends the replay)."""
        op = self.snapshot.get(operation_id)
        if op is None or not op.status.is_terminal:
            answer = Answer()
            self.topology.tell(self.state, Lookup(operation_id, answer))
            op = cast(OperationRecord | None, answer.get())
        if op is None or not op.status.is_terminal:
            self.unreplayed.clear()
        else:
            self.unreplayed.discard(operation_id)
        return op

    def checkpoint(self, update: RecordUpdate, wait: bool = True) -> None:
        if not wait:
            self.topology.tell(self.state, Checkpoint((update,)))
            return
        answer = Answer()
        self.topology.tell(self.state, Checkpoint((update,), answer))
        answer.get()


def _replayable(operation_id: str, snapshot: dict[str, OperationRecord]) -> bool:
    """A completed operation the handler will meet again: none of its enclosing contexts returns a stored result."""
    op = snapshot[operation_id]
    if not op.status.is_terminal:
        return False
    parent = snapshot.get(op.parent_id) if op.parent_id else None
    while parent is not None:
        if parent.status.is_terminal and not parent.replay_children:
            return False
        parent = snapshot.get(parent.parent_id) if parent.parent_id else None
    return True
