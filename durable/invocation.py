"""One invocation, as the handler's threads see it: lookups and checkpoints.

Reads come from a snapshot taken when the invocation starts where they can:
a terminal record never changes.  A map branch resumed after its timer fired
replays from the records its RunBranch carried (one view per thread, never
shared).  Anything else is asked of the ExecutionState, which also knows what
this invocation wrote since.
Writes are Checkpoint messages; a blocking one waits on an answer that the
CheckpointWriter gives after the commit.  Replay status is not kept here but
by each context (`durable.context`), so no state is shared between the
threads of a map's branches.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, cast

import attrs
import pykka

from actors.messages import Checkpoint, Lookup, RecordsUnder
from actors.pool import about_to_wait
from actors.replies import Answer
from actors.topology import Topology
from durable.clock import Clock
from durable.core.operation_ids import is_under
from durable.core.records import OperationRecord, OperationType, RecordUpdate


@attrs.frozen(slots=True)
class InvocationMeta:
    """What the engine tells an invocation about itself (the analogue of Lambda's invocation input).

    * updated_operation_ids: operations with history events after the last
      InvocationCompleted: changed since the previous invocation ended;
    * recent_operation_ids: operations with events while the previous
      invocation ran (between the last two InvocationCompleted);
    * reported_operation_ids: of the operations closed outside the handler,
      those whose end the previous invocation's plugins were told; the engine
      remembers it, and None says it does not know (it restarted since).
    """

    request_id: str | None = None
    execution_started: float | None = None
    updated_operation_ids: frozenset[str] = frozenset()
    recent_operation_ids: frozenset[str] = frozenset()
    reported_operation_ids: frozenset[str] | None = None


class OperationObserver(Protocol):
    """Told of every lookup and checkpoint while a handler with plugins runs (`durable.plugin_session`)."""

    def looked_up(self, operation_id: str, op: OperationRecord | None) -> None: ...

    def before_checkpoint(self, update: RecordUpdate) -> None: ...

    def sent_checkpoint(self, update: RecordUpdate, committed: Answer | None) -> None: ...


@attrs.define(slots=True)
class _View:
    root: str
    records: dict[str, OperationRecord]
    written: set[str]


class _ThreadView(threading.local):
    """Per thread: the view a resumed branch replays from (None, the class default: none)."""

    view: _View | None = None


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
        deadline: float | None = None,
        meta: InvocationMeta | None = None,
        started: float | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.state = state
        self.snapshot = snapshot
        self.topology = topology
        self.clock = clock
        self.engine = engine
        self.tenant_id = tenant_id
        self.deadline = deadline
        self.meta = meta
        #: when this invocation began, on the engine's clock (None: unknown)
        self.started = started
        #: what the handler's `context.lambda_context` is (None: a LocalLambdaContext made for it)
        self.lambda_context: Any = None
        #: set while a handler with plugins runs; it fires their operation hooks (durable.plugin_session)
        self.plugins: OperationObserver | None = None
        #: per thread: the records a resumed branch replays from (`replay_from`)
        self._local = _ThreadView()

    @property
    def durable_execution_arn(self) -> str:
        return self.execution_arn

    def has_prior_operations(self) -> bool:
        """Whether an earlier invocation checkpointed anything: the handler starts by replaying."""
        return any(op.operation_type is not OperationType.EXECUTION for op in self.snapshot.values())

    def replay_from(self, view: RecordsUnder) -> None:
        """Answer this thread's lookups under `view.root` from the view (a resumed branch's records)
        until `forget_view`.

        The view is the ExecutionState's at the refresh before this run, and
        nothing else writes under a suspended branch's id; what this thread
        writes from here on is asked of the state again.
        """
        self._local.view = _View(view.root, view.records, set())

    def forget_view(self) -> None:
        """Stop answering from this thread's view: its branch run is over, or other threads (a nested
        batch's branches) write under it now."""
        self._local.view = None

    def lookup(self, operation_id: str, known_new: bool = False) -> OperationRecord | None:
        """The recorded operation at this id, or None for new work (`known_new`: the caller knows it is)."""
        op = None if known_new else self.snapshot.get(operation_id)
        if not known_new and (op is None or not op.status.is_terminal):
            view = self._local.view
            if view is not None and operation_id not in view.written and is_under(view.root, operation_id):
                op = view.records.get(operation_id)
            else:
                answer = Answer()
                self.topology.tell(self.state, Lookup(operation_id, answer))
                op = cast(OperationRecord | None, answer.get())
        if self.plugins is not None:
            self.plugins.looked_up(operation_id, op)
        return op

    def checkpoint(self, update: RecordUpdate, wait: bool = True, started: RecordUpdate | None = None) -> None:
        """Send `update` (after `started`, a start held back to travel with it, when given)."""
        view = self._local.view
        if view is not None:
            view.written.add(update.operation_id)
        plugins = self.plugins
        if plugins is not None:
            plugins.before_checkpoint(update)
        updates = (update,) if started is None else (started, update)
        if not wait:
            self.topology.tell(self.state, Checkpoint(updates))
            if plugins is not None:
                plugins.sent_checkpoint(update, None)
            return
        answer = Answer()
        with about_to_wait():
            self.topology.tell(self.state, Checkpoint(updates, answer))
        if plugins is not None:
            plugins.sent_checkpoint(update, answer)  # waits for the answer, then reports the merged operation
            return
        answer.get()

    def checkpoint_outcome(self, update: RecordUpdate, started: RecordUpdate | None = None) -> None:
        """Checkpoint the outcome of a poll or a child context, which nothing in this run waits on.

        The AWS SDK waits for these; here they are sent without waiting unless
        plugins watch checkpoints (they are told each one's answer).  The
        ExecutionState applies it before anything this thread sends later, and
        the CheckpointWriter commits in that order, so every later checkpoint is
        durable only once this one is.  What a crash in between costs is what a
        crash during the check or the child costs anyway: the last check, or the
        child's code between its recorded operations, runs again on replay.  A
        map's branches each end with one or two of these: waiting on them cost
        a 10,000-branch wave 60,000 thread hand-offs.
        """
        self.checkpoint(update, wait=self.plugins is not None, started=started)

    def remaining_millis(self) -> int:
        """Milliseconds until the invocation's deadline (its function timeout or the execution's deadline)."""
        if self.deadline is None:
            return 0
        return max(0, int((self.deadline - self.clock.now()) * 1000))
