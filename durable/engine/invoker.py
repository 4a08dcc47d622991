"""Invoker: what a worker does with one Invoke, from loading state to the closing write.

1. Check the wake-up: an execution whose function this engine lacks is left
   for an engine that has it (nothing is written).  An alarm that fired
   before anything in the stored operations is due (a heartbeat moved a
   callback's deadline later, say) is spurious: re-arm at the real due time
   and stop.  A passed execution deadline ends it TIMED_OUT.
2. Open the invocation (new fencing token), start an ExecutionState loaded
   from the store, let due timers fire (one write), snapshot.
3. Run the handler; close with EndInvocation (InvocationCompleted, the
   execution's end or its next alarm).  Writes of a fenced invocation are
   rejected and the invocation just stops.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any, cast

import attrs
import pykka
from loguru import logger

from actors.execution_state import ExecutionState
from actors.messages import (
    BeginInvocation,
    EndInvocation,
    ExecutionEnded,
    FireDueTimers,
    InvocationOutcome,
    OutcomeStatus,
    Persist,
    PrepareAlarm,
    RunHandler,
    Snapshot,
)
from actors.pool import about_to_wait
from actors.process_link import WorkerProcessError
from actors.topology import Topology
from actors.worker import OnStarted, RunAgainError
from actors.worker_process import WorkerProcess, handler_reference
from durable.clock import Clock, skew
from durable.core.callback_ids import CallbackIds
from durable.core.records import ErrorObject, OperationRecord
from durable.core.writes import end_execution
from durable.engine.registry import FunctionRegistry
from durable.exceptions import CheckpointRejectedError
from durable.execution import DurableHandler, run_plain_function
from durable.invocation import Invocation
from durable.plugin_session import invocation_meta, remember_reported_ends
from durable.stores.base import CommitResult, ExecutionRecord, ExecutionStatus, Store, WriteSet

EARLY_TOLERANCE = 0.001
#: how long a worker waits for an actor's reply before giving the invocation up as crashed (it runs again)
REPLY_TIMEOUT = 120.0
#: invocations in a row that may end asking to be run again before the execution fails with the last one's error
MAX_FAILED_INVOCATIONS = 5


@attrs.define
class Invoker:
    store: Store
    registry: FunctionRegistry
    topology: Topology
    clock: Clock
    writer: pykka.ActorRef[Any]
    alarm_client: pykka.ActorRef[Any]
    callback_ids: CallbackIds
    engine: Any = None
    external: pykka.ActorRef[Any] | None = None
    lambda_context: Callable[[Any], Any] | None = None
    #: per running execution, what its last invocation's plugins were told had ended (durable.plugin_session)
    reported_ends: dict[str, frozenset[str]] = attrs.Factory(dict)

    def ask(self, ref: pykka.ActorRef[Any], make: Callable[[pykka.ThreadingFuture[Any]], Any]) -> Any:
        future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        with about_to_wait():
            self.topology.tell(ref, make(future))
        return future.get(timeout=REPLY_TIMEOUT)

    def tell_caller(self, record: ExecutionRecord) -> None:
        """A chained execution ended: close its caller's invoke operation before going on."""
        if record.parent_execution_id is not None and self.external is not None:
            self.ask(self.external, lambda f: ExecutionEnded(record.execution_id, f))

    def end_with(self, ws: WriteSet) -> CommitResult:
        """Commit a write that changes the stored alarm, through the AlarmClient's ordering."""
        due = ws.alarm if isinstance(ws.alarm, float) else None
        return self.ask(self.alarm_client, lambda f: PrepareAlarm(ws.execution_id, due, Persist(ws, f)))

    def run(
        self, execution_id: str, alarm: bool, on_started: OnStarted, worker: str, process: WorkerProcess | None = None,
        timed_out: int = 0,
    ) -> int | None:
        """Run one invocation; with `process`, the handler runs in that worker process.  `timed_out`: how many
        invocations in a row before this one were stopped at their deadline; after MAX_FAILED_INVOCATIONS the
        execution fails instead, as the AWS testing library's runner gives up on a function that keeps timing out.

        Raises WorkerProcessError, after recording the invocation as ended with its
        error (Runtime.ExitError, Runtime.ImportModuleError), if the process died or could
        not load the handler: the execution should run again.
        """
        record = self.store.get_execution(execution_id)
        if record is None or record.status.is_terminal:
            return None
        now, ahead = self.clock.now(), skew(self.clock)
        if alarm:
            due = earliest_due(self.store.load_operations(execution_id), record.deadline, ahead)
            if due is None or due > now + EARLY_TOLERANCE:
                logger.debug("early wake-up of {}; re-arming for {}", execution_id, due)
                with contextlib.suppress(CheckpointRejectedError):
                    self.end_with(WriteSet(execution_id, None, alarm=due))
                self.store.release([execution_id], wake=False)
                return None
        if record.deadline is not None and self.clock.wall() >= record.deadline:
            self.time_out(execution_id, now)
            self.tell_caller(record)
            return None
        function = self.registry.get(record.function_name)
        if function is None:
            logger.warning(
                "execution {} waits for function {!r}, which this engine does not have; "
                "an engine that registers it will resume it",
                execution_id,
                record.function_name,
            )
            self.store.release([execution_id], wake=True)
            return None
        if timed_out >= MAX_FAILED_INVOCATIONS:
            error = ErrorObject(f"Function timed out after {function.invocation_timeout:g} seconds", "Sandbox.Timedout")
            ws = end_execution(execution_id, ExecutionStatus.FAILED, "ExecutionFailed", now, error)
            with contextlib.suppress(CheckpointRejectedError):
                self.end_with(ws)
            self.tell_caller(record)
            return None
        begun: CommitResult = self.ask(self.writer, lambda f: BeginInvocation(execution_id, f))
        if not begun.ok or begun.token is None:
            return None
        token = begun.token
        timeout = function.invocation_timeout
        deadline = now + timeout if record.deadline is None else min(now + timeout, record.deadline + ahead)
        state = ExecutionState.start(
            self.topology,
            self.engine.branch_pool,
            execution_id,
            token,
            self.store.load_operations(execution_id),
            record.deadline,
            self.clock,
            self.writer,
            self.alarm_client,
            self.store,
            self.callback_ids,
            self.engine.ticker,
            worker,
        )
        on_started(token, deadline, state)
        try:
            self.ask(state, lambda f: FireDueTimers(f))
            snapshot = cast(dict[str, OperationRecord], state.ask(Snapshot()))
            meta = invocation_meta(self.store, record, token, function.handler, self.reported_ends.get(execution_id))
            invocation = Invocation(
                execution_id,
                state,
                snapshot,
                self.topology,
                self.clock,
                self.engine,
                record.tenant_id,
                deadline=deadline,
                meta=meta,
                started=now,
            )
            if self.lambda_context is not None:
                invocation.lambda_context = self.lambda_context(invocation)
            try:
                outcome = self._invoke(function, invocation, record, now, process)
            except WorkerProcessError as lost:
                error = ErrorObject(str(lost), lost.error_type)
                died = InvocationOutcome(OutcomeStatus.INTERRUPTED, error=error, started=now)
                with contextlib.suppress(CheckpointRejectedError):  # fenced: the process was killed for its deadline
                    self.ask(state, lambda f: EndInvocation(died, f))
                raise
            except BaseException as crash:  # SystemExit and the like too: the handler's runtime died under it
                logger.opt(exception=crash).error("invocation {} of {} crashed", token, execution_id)
                error = ErrorObject(f"{type(crash).__name__}: {crash}", "Runtime.Unknown")
                crashed = InvocationOutcome(OutcomeStatus.INTERRUPTED, error=error, started=now)
                with contextlib.suppress(Exception):
                    self.ask(state, lambda f: EndInvocation(crashed, f))
                raise
            if outcome.status is OutcomeStatus.INTERRUPTED:
                outcome = self._give_up_after(execution_id, outcome)
            self.ask(state, lambda f: EndInvocation(outcome, f))
            remember_reported_ends(self.reported_ends, execution_id, outcome)
            if outcome.status is OutcomeStatus.INTERRUPTED:
                assert outcome.error is not None
                raise RunAgainError(f"{outcome.error.type}: {outcome.error.message}")
            if outcome.status is not OutcomeStatus.PENDING:
                self.tell_caller(record)
        except CheckpointRejectedError as error:
            logger.info("invocation {} of {} stopped: {}", token, execution_id, error)
        finally:
            state.stop(block=False)
        return token

    def _give_up_after(self, execution_id: str, outcome: InvocationOutcome) -> InvocationOutcome:
        """The outcome of an invocation that asked to be run again: FAILED with its error once it is the
        MAX_FAILED_INVOCATIONS-th in a row that ended with an error (as the AWS testing library's runner
        gives up), else as it is."""
        before = 0
        for event in reversed(self.store.history(execution_id)):
            if event.get("EventType") == "InvocationCompleted":
                if "Error" not in event.get("InvocationCompletedDetails", {}):
                    break
                before += 1
        if before + 1 < MAX_FAILED_INVOCATIONS:
            return outcome
        logger.warning("{}: {} invocations in a row ended with an error; failing the execution",
                       execution_id, before + 1)
        return attrs.evolve(outcome, status=OutcomeStatus.FAILED)

    def _invoke(
        self, function: Any, invocation: Invocation, record: ExecutionRecord, now: float, process: WorkerProcess | None
    ) -> InvocationOutcome:
        durable = isinstance(function.handler, DurableHandler)
        if not durable and record.invocations > 0:
            why = f"the only invocation of plain function {record.function_name!r} was interrupted; it is not re-run"
            return InvocationOutcome(OutcomeStatus.FAILED, error=ErrorObject(why, "Runtime.ExitError"), started=now)
        if process is not None:
            module, qualname = handler_reference(function.name, function.handler)
            job = RunHandler(
                module,
                qualname,
                durable,
                record,
                invocation.snapshot,
                now,
                tuple(sys.path),
                invocation.meta,
                self.lambda_context,
            )
            return process.run(job, {"state": invocation.state})
        if durable:
            return function.handler.invoke(invocation, record.input, now)
        return run_plain_function(function.handler, record, now)

    def time_out(self, execution_id: str, now: float) -> None:
        error = ErrorObject("the execution exceeded its execution timeout", "ExecutionTimedOut")
        ws = end_execution(execution_id, ExecutionStatus.TIMED_OUT, "ExecutionTimedOut", now, error)
        with contextlib.suppress(CheckpointRejectedError):
            self.end_with(ws)


def earliest_due(operations: list[OperationRecord], deadline: float | None, ahead: float = 0.0) -> float | None:
    """When the execution next needs the service, on the engine's clock: its earliest due operation, or its
    deadline (kept in real time, like timeouts; `ahead` is how far the engine's clock runs ahead of it)."""
    dues = [d for d in (op.due_at(ahead) for op in operations) if d is not None]
    if deadline is not None:
        dues.append(deadline + ahead)
    return min(dues) if dues else None
