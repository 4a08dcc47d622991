"""Invoker: what a worker does with one Invoke, from loading state to the closing write.

1. Check the wake-up: an execution whose function this engine lacks is left
   for an engine that has it (nothing is written).  An alarm that fired earlier than the stored one is
   spurious; re-arm and stop.  A passed execution deadline ends it TIMED_OUT.
2. Open the invocation (new fencing token), start an ExecutionState loaded
   from the store, let due timers fire (one write), snapshot.
3. Run the handler; close with EndInvocation (InvocationCompleted, the
   execution's end or its next alarm).  Writes of a fenced invocation are
   rejected and the invocation just stops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, cast

import attrs
import pykka
from loguru import logger

from actors.execution_state import ExecutionState
from actors.messages import (
    AlarmCommitted,
    BeginInvocation,
    EndInvocation,
    FireDueTimers,
    InvocationOutcome,
    Persist,
    PrepareAlarm,
    Snapshot,
)
from actors.topology import Topology
from durable.clock import Clock
from durable.engine.history import HistoryEvent, error_details
from durable.engine.registry import FunctionRegistry
from durable.exceptions import CheckpointRejectedError
from durable.execution import DurableHandler
from durable.invocation import Invocation
from durable.lambda_service import ErrorObject, Operation
from durable.stores.base import CommitResult, ExecutionChange, ExecutionStatus, Store, WriteSet

EARLY_TOLERANCE = 0.001


@attrs.define
class Invoker:
    store: Store
    registry: FunctionRegistry
    topology: Topology
    clock: Clock
    writer: pykka.ActorRef[Any]
    alarm_client: pykka.ActorRef[Any]
    engine: Any = None

    def ask(self, ref: pykka.ActorRef[Any], make: Callable[[pykka.ThreadingFuture[Any]], Any]) -> Any:
        future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        self.topology.tell(ref, make(future))
        return future.get()

    def end_with(self, ws: WriteSet) -> CommitResult:
        """Commit a write that changes the stored alarm, through the AlarmClient's ordering."""
        due = ws.alarm if isinstance(ws.alarm, float) else None
        return self.ask(self.alarm_client, lambda f: PrepareAlarm(ws.execution_id, due, Persist(ws, f)))

    def run(
        self, execution_id: str, alarm: bool, on_started: Callable[[int, float], None], worker: str
    ) -> int | None:
        record = self.store.get_execution(execution_id)
        if record is None or record.status.is_terminal:
            return None
        now = self.clock.now()
        if alarm and record.alarm is not None and record.alarm > now + EARLY_TOLERANCE:
            logger.debug("early wake-up of {}; re-arming for {}", execution_id, record.alarm)
            self.topology.tell(self.alarm_client, AlarmCommitted(execution_id, record.alarm))
            return None
        if record.deadline is not None and now >= record.deadline:
            self.time_out(execution_id, now)
            return None
        function = self.registry.get(record.function_name)
        if function is None:
            logger.warning(
                "execution {} waits for function {!r}, which this engine does not have; "
                "an engine that registers it will resume it", execution_id, record.function_name,
            )
            return None
        begun: CommitResult = self.ask(self.writer, lambda f: BeginInvocation(execution_id, f))
        if not begun.ok or begun.token is None:
            return None
        token = begun.token
        timeout = function.invocation_timeout
        deadline = now + timeout if record.deadline is None else min(now + timeout, record.deadline)
        on_started(token, deadline)
        state = ExecutionState.start(
            self.topology, execution_id, token, self.store.load_operations(execution_id), record.deadline,
            self.clock, self.writer, self.alarm_client, worker,
        )
        try:
            self.ask(state, lambda f: FireDueTimers(f))
            snapshot = cast(dict[str, Operation], state.ask(Snapshot()))
            invocation = Invocation(execution_id, state, snapshot, self.topology, self.clock, self.engine)
            outcome = self._invoke(function, invocation, record.input, now, record.function_name)
            self.ask(state, lambda f: EndInvocation(outcome, f))
        except CheckpointRejectedError as error:
            logger.info("invocation {} of {} stopped: {}", token, execution_id, error)
        finally:
            state.stop(block=False)
        return token

    def _invoke(
        self, function: Any, invocation: Invocation, input_payload: str | None, now: float, name: str
    ) -> InvocationOutcome:
        if not isinstance(function.handler, DurableHandler):
            why = f"function {name!r} is not a @durable_execution handler"
            return InvocationOutcome("FAILED", error=ErrorObject(why, "InvalidFunction"), started=now)
        return function.handler.invoke(invocation, input_payload, now)

    def time_out(self, execution_id: str, now: float) -> None:
        error = ErrorObject("the execution exceeded its execution timeout", "ExecutionTimedOut")
        ws = WriteSet(
            execution_id,
            None,
            events=(HistoryEvent("ExecutionTimedOut", now, error_details(error)),),
            execution=ExecutionChange(
                ExecutionStatus.TIMED_OUT, error=error, ended=now, invocation_open=False, bump_token=True
            ),
            alarm=None,
        )
        with contextlib.suppress(CheckpointRejectedError):
            self.end_with(ws)
