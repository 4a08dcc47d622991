"""CompletionBoard: lets callers wait for an execution to end.

Owns: the futures of callers waiting on executions.  Takes: AwaitEnd (from
caller threads), ExecutionEnded (from the CheckpointWriter, after the commit
that ended an execution).  Sends: nothing; it resolves the waiting futures
with the final ExecutionRecord.
"""

from __future__ import annotations

from typing import Any

from actors.messages import AwaitEnd, ExecutionEnded
from actors.replies import resolve
from actors.topology import Topology, TrackedActor
from durable.stores.base import Store


class CompletionBoard(TrackedActor):
    def __init__(self, topology: Topology, store: Store) -> None:
        super().__init__(topology, "engine")
        self.store = store
        self.waiting: dict[str, list[Any]] = {}

    def handle(self, message: Any) -> Any:
        match message:
            case AwaitEnd(execution_id, reply_to):
                record = self.store.get_execution(execution_id)
                if record is None or record.status.is_terminal:
                    resolve(reply_to, record)
                else:
                    self.waiting.setdefault(execution_id, []).append(reply_to)
            case ExecutionEnded(execution_id):
                waiters = self.waiting.pop(execution_id, None)
                if waiters:
                    record = self.store.get_execution(execution_id)
                    for reply_to in waiters:
                        resolve(reply_to, record)
            case _:
                raise TypeError(f"CompletionBoard got an unexpected message {message!r}")
        return None
