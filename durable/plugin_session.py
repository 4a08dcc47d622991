"""Where the runtime fires plugin hooks: one PluginSession per invocation of a handler with plugins.

`DurableHandler.invoke` runs the invocation through `run_invocation`, which
fires the invocation hooks and hangs a `PluginSession` on the `Invocation`.
Every operation goes through `Invocation.lookup` and `Invocation.checkpoint`,
and those tell the session what they saw and sent:

* a START about to be sent fires on_operation_start (replayed when this
  invocation already knew the operation: a step retry, a polled
  wait_for_condition);
* a lookup of an operation an earlier invocation left non-terminal (and not
  READY) fires on_operation_start with is_replayed, once;
* a lookup that finds a wait, callback or chained invoke terminal which was
  not terminal when the invocation started, or which changed after the
  previous invocation ended (a wait that fired, a callback completed), fires
  on_operation_end, once; so does the end of the invocation for such
  operations the handler did not reach again (an outside completion that
  lands while the invocation runs belongs to it, not to the next one);
* a checkpoint is looked up again (the lookup sent right behind it) and,
  once it is written, a terminal status fires on_operation_end (once per
  operation), a changed status on_operation_change.  A checkpoint the
  operation does not wait for is reported at the operation's next waited
  checkpoint, or when the invocation ends, whichever comes first.  Without
  a plugin listening to either hook nothing is looked up.

Operations call `run_user_function` around user code and
`child_context_ended` for a child context that ends without a checkpoint
(a FLAT branch, a context re-run to rebuild a large result).
Without plugins all of these are a None check.

"Changed after the previous invocation ended" is `InvocationMeta.updated_operation_ids`:
the operations of the history events after the last InvocationCompleted,
computed by the engine (only for handlers with plugins) when it opens the
invocation.  An outside completion can land after an invocation's last look
and before its InvocationCompleted is written; the next invocation reports
those too (`recent_operation_ids`), except the ones the previous invocation
did report, which the engine remembers from its outcome (`reported_ends`).

Concurrency: map and parallel branches call in from several threads.  The
session's state is dicts changed by single atomic operations; "fire once"
is claimed with `dict.setdefault`, which only one caller can win.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from loguru import logger

from actors.messages import InvocationOutcome, Lookup, OutcomeStatus
from actors.replies import Answer
from durable.core.records import (
    ErrorObject,
    OperationRecord,
    OperationStatus,
    OperationType,
    RecordUpdate,
)
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation, InvocationMeta
from durable.plugin import DurableInstrumentationPlugin, PluginExecutor, _Retry, _utc

__all__ = [
    "InvocationMeta",
    "PluginSession",
    "child_context_ended",
    "invocation_meta",
    "plugins_of",
    "remember_reported_ends",
    "run_invocation",
    "run_user_function",
    "updated_since_last_invocation",
]

T = TypeVar("T")


def plugins_of(handler: Any) -> tuple[DurableInstrumentationPlugin, ...]:
    return tuple(getattr(handler, "plugins", None) or ())


def invocation_meta(
    store: Any, record: Any, token: int, handler: Any, reported: frozenset[str] | None = None
) -> InvocationMeta:
    """The meta of invocation `token` of `record`; the history is read only when the handler has plugins."""
    updated: frozenset[str] = frozenset()
    recent: frozenset[str] = frozenset()
    if plugins_of(handler):
        updated, recent = changed_operations(store.history(record.execution_id))
    return InvocationMeta(str(token), record.created, updated, recent, reported)


def changed_operations(history: Sequence[Mapping[str, Any]]) -> tuple[frozenset[str], frozenset[str]]:
    """(operations with events after the last InvocationCompleted, those with events between the last two)."""
    windows: list[set[str]] = [set(), set()]
    completed = 0
    for event in reversed(history):
        if event.get("EventType") == "InvocationCompleted":
            completed += 1
            if completed == 2:
                break
            continue
        operation_id = event.get("Id")
        if isinstance(operation_id, str):
            windows[completed].add(operation_id)
    if completed == 0:
        return frozenset(), frozenset()  # no invocation ended yet: nothing changed "since" one
    return frozenset(windows[0]), frozenset(windows[1])


#: Executions whose reported ends an engine remembers at most (the oldest are forgotten first).
REMEMBERED_EXECUTIONS = 10_000


def remember_reported_ends(memory: dict[str, frozenset[str]], execution_id: str, outcome: InvocationOutcome) -> None:
    """Keep what a suspended invocation with plugins reported, for the next one; forget the rest.

    Invokers on several worker threads write `memory`, each for its own
    execution (one invocation per execution at a time): single dict
    operations, and an eviction that gives up if another thread got there.
    """
    if outcome.status is not OutcomeStatus.PENDING or outcome.reported_ends is None:
        memory.pop(execution_id, None)
        return
    memory[execution_id] = outcome.reported_ends
    while len(memory) > REMEMBERED_EXECUTIONS:
        try:
            memory.pop(next(iter(memory)), None)
        except (RuntimeError, StopIteration):  # changed meanwhile by another invoker
            return


def updated_since_last_invocation(history: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Operations with history events after the last InvocationCompleted (none before the first invocation)."""
    return changed_operations(history)[0]


#: Operations that end outside the handler: a timer fires a wait; an outside system or a timeout closes a
#: callback or a chained invoke.  The others end by the handler's own checkpoint, and are reported then.
CLOSED_OUTSIDE = frozenset({OperationType.WAIT, OperationType.CALLBACK, OperationType.CHAINED_INVOKE})


def _claim(claims: dict[str, object], key: str) -> bool:
    """True for exactly one caller per key, whatever the threads."""
    token = object()
    return claims.setdefault(key, token) is token


class PluginSession:
    """The hooks of one invocation: what the Invocation reports, turned into plugin calls."""

    def __init__(self, executor: PluginExecutor, invocation: Invocation, meta: InvocationMeta) -> None:
        self.executor = executor
        self.invocation = invocation
        self.snapshot: dict[str, OperationRecord] = invocation.snapshot
        self.updated = meta.updated_operation_ids
        self.recent = meta.recent_operation_ids
        self.previously_reported = meta.reported_operation_ids
        #: every operation this invocation knows, as last seen (the snapshot, then lookups and merges)
        self.known: dict[str, OperationRecord] = dict(invocation.snapshot)
        self.ended: dict[str, object] = {}
        self.replayed: dict[str, object] = {}
        #: operations with a checkpoint sent without waiting, not reported yet: their lookup, in flight
        self.unmerged: dict[str, Answer] = {}
        # Reading merged checkpoints back costs a lookup each: only done when some plugin listens.
        self.reports_ends = executor.wants("on_operation_end")
        self.reports_merges = self.reports_ends or executor.wants("on_operation_change")

    # ----- from Invocation

    def looked_up(self, operation_id: str, op: OperationRecord | None) -> None:
        if op is None:
            return
        self.known[operation_id] = op
        if op.operation_type is OperationType.EXECUTION:
            return
        before = self.snapshot.get(operation_id)
        if op.status.is_terminal:
            if self._news(operation_id, op) and _claim(self.ended, operation_id):
                self.executor.on_operation_update(op)
            return
        if operation_id in self.updated:
            return  # changed while suspended but still open: nothing to report yet
        if before is not None and op.status is not OperationStatus.READY and _claim(self.replayed, operation_id):
            self.executor.on_operation_replay(op)

    def _news(self, operation_id: str, op: OperationRecord) -> bool:
        """Whether a terminal `op` ended outside the handler and no earlier invocation reported it.

        It is news if it ended after the previous invocation did, or while this
        one runs; if it ended while the previous one ran, unless that one
        reported it (an outside completion can land after an invocation's
        last look and before its end is written).
        """
        if not self.reports_ends or op.operation_type not in CLOSED_OUTSIDE:
            return False
        if operation_id in self.updated:
            return True
        if operation_id in self.recent:
            # Unknown (the engine restarted): the previous invocation most likely saw it; say nothing twice.
            return self.previously_reported is not None and operation_id not in self.previously_reported
        before = self.snapshot.get(operation_id)
        return before is None or not before.status.is_terminal

    def reported_outside(self) -> frozenset[str]:
        """The operations closed outside the handler whose end this invocation reported."""
        known = dict(self.known)
        return frozenset(
            op_id for op_id in dict(self.ended) if op_id in known and known[op_id].operation_type in CLOSED_OUTSIDE
        )

    def before_checkpoint(self, update: RecordUpdate) -> None:
        previous = self.known.get(update.operation_id)
        # A START keeps the operation's first start time, so the previous record already has it.
        self.executor.on_operation_action(update, operation=previous, previous_operation=previous)

    def sent_checkpoint(self, update: RecordUpdate, committed: Answer | None) -> None:
        """The checkpoint is on its way; `committed` (when the operation waits) answers once it is written.

        The ExecutionState applies a checkpoint to its map when it receives
        it, so a lookup sent right behind it reads the merged operation
        without waiting for the commit; it is reported once the commit is
        confirmed (or, unwaited, later: see the module docstring).
        """
        if not self.reports_merges:
            if committed is not None:
                committed.get()
            return
        merged = self._lookup(update.operation_id)
        if committed is None:
            self.unmerged[update.operation_id] = merged
            return
        committed.get()  # a rejected checkpoint raises here, and reports nothing
        self.unmerged.pop(update.operation_id, None)
        self._merged(update.operation_id, merged.get())

    def flush(self) -> None:
        """Called before on_invocation_end: report what this invocation has not yet.

        That is the checkpoints nobody waited for, and the operations that
        ended outside the handler during this invocation (or just before it)
        but were not reached again: the next invocation counts only what
        changes after this one, so this one must report them.
        """
        for operation_id in dict(self.unmerged):
            merged = self.unmerged.pop(operation_id, None)
            if merged is not None:
                self._merged(operation_id, merged.get())
        if not self.reports_ends:
            return
        known = dict(self.known)  # one atomic copy: a straggling branch may still add to it
        open_outside = {
            operation_id
            for operation_id, op in known.items()
            if op.operation_type in CLOSED_OUTSIDE and not op.status.is_terminal
        }
        candidates = {
            operation_id
            for operation_id in (open_outside | self.updated | self.recent) - dict(self.ended).keys()
            if operation_id not in known or known[operation_id].operation_type in CLOSED_OUTSIDE
        }
        asked = [(operation_id, self._lookup(operation_id)) for operation_id in sorted(candidates)]
        for operation_id, answer in asked:
            op: OperationRecord | None = answer.get()
            if op is None:
                continue
            self.known[operation_id] = op
            if op.status.is_terminal and self._news(operation_id, op) and _claim(self.ended, operation_id):
                self.executor.on_operation_update(op)

    def _merged(self, operation_id: str, op: OperationRecord | None) -> None:
        if op is None:
            return
        previous = self.known.get(operation_id)
        self.known[operation_id] = op
        if op.status.is_terminal and _claim(self.ended, operation_id):
            self.executor.on_operation_update(op)
        if previous is None or previous.status is not op.status:
            before = {operation_id: previous} if previous is not None else {}
            self.executor.report_change([op], self.known, before)

    def _lookup(self, operation_id: str) -> Answer:
        """Ask the ExecutionState for the operation (behind whatever this thread sent it before)."""
        answer = Answer()
        self.invocation.topology.tell(self.invocation.state, Lookup(operation_id, answer))
        return answer

    # ----- from operations

    def user_function(
        self,
        identifier: OperationIdentifier,
        func: Callable[..., T],
        args: Iterable[Any],
        attempt: int | None,
        is_replay_children: bool,
    ) -> T:
        start = self.executor.on_user_function_start(identifier, is_replay_children, attempt)
        try:
            value = func(*args)
        except Exception as error:
            self.executor.on_user_function_end(start, ErrorObject.from_exception(error))
            raise
        self.executor.on_user_function_end(start, None)
        return value


def run_user_function(
    invocation: Invocation,
    identifier: OperationIdentifier,
    func: Callable[..., T],
    *args: Any,
    attempt: int | None = None,
    is_replay_children: bool = False,
) -> T:
    """`func(*args)`, the user code of the operation `identifier`, between its hooks."""
    session = invocation.plugins
    if not isinstance(session, PluginSession):
        return func(*args)
    return session.user_function(identifier, func, args, attempt, is_replay_children)


def child_context_ended(
    invocation: Invocation,
    identifier: OperationIdentifier,
    status: OperationStatus,
    error: ErrorObject | None = None,
    is_replayed: bool = False,
) -> None:
    """A child context ended without a checkpoint of its own (virtual, or rebuilding a result)."""
    session = invocation.plugins
    if isinstance(session, PluginSession):
        session.executor.on_child_context_end(identifier, status, error=error, is_replayed=is_replayed)


def run_invocation(
    plugins: Sequence[DurableInstrumentationPlugin], invocation: Invocation, body: Callable[[], InvocationOutcome]
) -> InvocationOutcome:
    """Run `body` (the invocation) between the invocation hooks, with a session on `invocation`.

    It runs in a copy of the calling thread's contextvars context: what hooks
    attach for this invocation (an OpenTelemetry span, say) must not stay on
    the engine's worker thread for the next one.
    """
    if not plugins:
        return body()
    return contextvars.copy_context().run(_run_invocation, plugins, invocation, body)


def _run_invocation(
    plugins: Sequence[DurableInstrumentationPlugin], invocation: Invocation, body: Callable[[], InvocationOutcome]
) -> InvocationOutcome:
    meta: InvocationMeta = getattr(invocation, "meta", None) or InvocationMeta()
    executor = PluginExecutor(plugins)
    session = PluginSession(executor, invocation, meta)
    invocation.plugins = session
    try:
        with executor.run():
            first = not any(op.operation_type is not OperationType.EXECUTION for op in invocation.snapshot.values())
            executor.on_invocation_start(
                execution_arn=invocation.execution_arn,
                is_first_invocation=first,
                execution_start_time=_utc(meta.execution_started),
                request_id=meta.request_id,
            )
            try:
                outcome = body()
            except Exception as error:
                _flush(session)
                executor.on_invocation_end(_Retry(ErrorObject.from_exception(error)))
                raise
            _flush(session)
            executor.on_invocation_end(outcome)
            return attrs.evolve(outcome, reported_ends=session.reported_outside())
    finally:
        invocation.plugins = None


def _flush(session: PluginSession) -> None:
    try:
        session.flush()
    except Exception as error:  # the state is gone (a fenced invocation): nothing more to report
        logger.opt(exception=error).debug("unreported checkpoints of {} dropped", session.invocation.execution_arn)
