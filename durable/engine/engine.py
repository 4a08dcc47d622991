"""Engine: the in-process durable-execution service, as one object.

It wires the actors (CheckpointWriter, AlarmManager, AlarmClient,
Dispatcher with its InvocationWorkers, CompletionBoard), starts the Ticker,
and recovers what a previous process left: stored alarms are armed again,
invocations that never closed are recorded as ended by a process exit and
re-invoked, executions that never got an invocation are dispatched.

Every public method is called from ordinary (non-actor) threads.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Self, cast

import pykka
from loguru import logger

from actors.alarm_client import AlarmClient
from actors.alarm_manager import AlarmManager
from actors.checkpoint_writer import CheckpointWriter
from actors.cluster_member import ClusterMember, WakeListener
from actors.collector import YOUNG_THRESHOLD, raise_young_threshold
from actors.completion_board import CompletionBoard
from actors.dispatcher import DISPATCH_TIMEOUT, Dispatcher
from actors.external_events import ExternalEvents
from actors.messages import (
    AlarmCommitted,
    AwaitEnd,
    CallbackSignal,
    CreateExecution,
    DispatcherStats,
    NextAlarm,
    Persist,
    Ready,
    SaveMeta,
    Settle,
    SkipTime,
    TopologyPicture,
    WriterStats,
)
from actors.pool import ActorPool
from actors.ticker import Ticker
from actors.topology import Topology
from actors.worker import InvocationWorker
from actors.worker_process import WorkerProcess, handler_reference
from durable.clock import Clock, RealClock
from durable.config import Duration
from durable.core.callback_ids import CallbackIds
from durable.core.history import HistoryEvent
from durable.core.records import ErrorObject, OperationRecord, next_timer
from durable.core.transitions import CallbackAction
from durable.core.writes import close_invocation, end_execution
from durable.engine.invoker import Invoker
from durable.engine.process_jobs import run_job
from durable.engine.registry import FunctionRegistry, RegisteredFunction
from durable.exceptions import CheckpointRejectedError, UnknownCallbackError, ValidationError
from durable.execution import DurableHandler, as_durable_handler
from durable.limits import (
    MAX_NAME_LENGTH,
    check_json_value,
    check_name,
    check_seconds,
    check_setting_seconds,
    check_size,
    check_text,
    dump_json,
)
from durable.stores import open_store
from durable.stores.base import (
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStatus,
    Store,
    WriteSet,
)
from durable.stores.signing_key import load_or_create_key

DEFAULT_WORKERS = 4
ISOLATIONS = ("thread", "process")
DEFAULT_BRANCH_THREADS = 64
DEFAULT_LEASE_SECONDS = 10.0


class Engine:
    def __init__(
        self,
        store: str | Store | None = None,
        functions: dict[str, Any] | Iterable[Any] | None = None,
        clock: Clock | None = None,
        workers: int = DEFAULT_WORKERS,
        branch_threads: int = DEFAULT_BRANCH_THREADS,
        tick_interval: float = 0.01,
        dispatch_lock_timeout: Duration | timedelta | float = DISPATCH_TIMEOUT,
        recover: bool = True,
        execute: bool = True,
        isolation: str = "thread",
        lambda_context: Callable[[Any], Any] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        collector_threshold: int | None = YOUNG_THRESHOLD,
    ) -> None:
        """`execute=False` makes a record-only engine: `start` writes the execution and runs nothing.

        `dispatch_lock_timeout` (a Duration, a timedelta or seconds; 250 ms by default): how long an
        invocation offered to a worker may wait for it before it is offered to another one.
        `isolation`: "thread" runs handlers on worker threads; "process" runs them in worker
        processes, so a handler that exits or crashes takes down one invocation, not the engine
        (its handlers must then be importable by module and name).
        `lambda_context`: makes each invocation's `context.lambda_context` from its Invocation (a module-level
        function, so worker processes can use it too); by default a LocalLambdaContext.
        `lease_seconds`: on a shared store (PostgreSQL), how long this engine may go without a heartbeat
        before the others declare it dead and take its executions over (10 s by default).
        `collector_threshold`: the cyclic collector's young-generation threshold this process (and each
        worker process) runs with, set only where Python's defaults are still in effect (None: leave the
        collector alone); see actors.collector.
        """
        if workers < 1:
            raise ValidationError(f"workers must be at least 1, got {workers}")
        if collector_threshold is not None and (type(collector_threshold) is not int or collector_threshold < 1):
            raise ValidationError(
                f"collector_threshold must be a positive integer or None, got {collector_threshold!r}"
            )
        if isolation not in ISOLATIONS:
            raise ValidationError(f"isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")
        self.isolation = isolation
        lock_timeout = check_setting_seconds(dispatch_lock_timeout, "dispatch_lock_timeout")
        self.collector_threshold = collector_threshold
        raise_young_threshold(collector_threshold)
        self.store = store if isinstance(store, Store) else open_store(store)
        self.shared = self.store.shared and execute
        lease_seconds = check_setting_seconds(lease_seconds, "lease_seconds")
        if self.shared:
            member = self.store.join(lease_seconds)  # type: ignore[attr-defined]
            logger.info("engine {} joined the store {} (lease {} s)", member.engine_id, self.store.url, lease_seconds)
        else:
            self.store.acquire_engine_lock()
        self.clock = clock or RealClock()
        self.registry = FunctionRegistry()
        self.topology = Topology()
        self.ticker = Ticker(self.clock, [], tick_interval)
        self.writer = CheckpointWriter.start(self.topology, self.store, self.clock)
        self.alarm_manager = AlarmManager.start(self.topology, self.clock, self._next_timer)
        self.alarm_client = AlarmClient.start(
            self.topology, self.alarm_manager, self.writer, self.clock, self.store, self.ticker
        )
        self.completions = CompletionBoard.start(self.topology, self.store)
        self.callback_ids = CallbackIds(
            self.store.stored_signing_key() or load_or_create_key(self.store.secret_key_path())
        )
        self.invoker = Invoker(
            self.store, self.registry, self.topology, self.clock, self.writer, self.alarm_client,
            self.callback_ids, self, lambda_context=lambda_context,
        )
        self.dispatcher = Dispatcher.start(
            self.topology, self.writer, self.alarm_manager, self._make_worker, workers, lock_timeout, self.clock,
            self.ticker,
        )
        self.external = ExternalEvents.start(
            self.topology, self.store, self.clock, self.callback_ids, self.writer, self.dispatcher
        )
        self.invoker.external = self.external
        self.writer.proxy().connect(self.alarm_client, self.completions).get()
        self.member: pykka.ActorRef[Any] | None = None
        self.wake_listener: WakeListener | None = None
        if self.shared:
            self.member = ClusterMember.start(
                self.topology, self.store, self.clock, self.dispatcher, self.registry.names, workers, lease_seconds
            )
            self.dispatcher.proxy().connect_claimer(self.member).get()
            self.wake_listener = WakeListener(self.store, self.member)
            self.wake_listener.start()
            self.ticker.subscribe(self.member)
        self.alarm_manager.proxy().connect(self.dispatcher, self.alarm_client, self.ticker).get()
        self.ticker.start()
        self.branch_pool = ActorPool(branch_threads, "durable-branch")
        self._closed = False
        self.execute = execute
        for entry in _function_entries(functions):
            self.register(*entry)
        if recover and execute:
            self.recover()

    def _make_worker(self, dispatcher: pykka.ActorRef[Any], serial: int) -> pykka.ActorRef[Any]:
        name = f"worker-{serial}"
        process = None
        if self.isolation == "process":
            services = {
                "now": self.clock.now,
                "wall": self.clock.wall,
                "has_function": self.has_function,
                "unknown_function": self.unknown_function,
                "start_chained": self.start_chained,
                "subscribe_ticks": self.subscribe_ticks,
            }
            process = WorkerProcess(self.topology, services, name, run_job, self.collector_threshold)
        return InvocationWorker.start(self.topology, dispatcher, self.invoker, name, process)

    # ----- functions

    def register(
        self,
        name_or_handler: str | DurableHandler[Any],
        handler: Any = None,
        invocation_timeout: float | None = None,
    ) -> RegisteredFunction:
        """Register `handler` under a name (default: the handler's own name)."""
        if isinstance(name_or_handler, str):
            name, target = name_or_handler, handler
        else:
            target = name_or_handler
            name = str(getattr(target, "name", None) or getattr(target, "__name__", ""))
        if self.isolation == "process":
            handler_reference(name, target)
        return self.registry.register(name, target, invocation_timeout)

    def _next_timer(self, execution_id: str) -> float | None:
        """When the execution's first timer is due (what a skipping test clock may jump to)."""
        return next_timer(self.store.load_operations(execution_id))

    def has_function(self, name: str) -> bool:
        return self.registry.get(name) is not None

    # ----- executions

    def start(
        self,
        function: str | DurableHandler[Any],
        input: Any = None,
        execution_name: str | None = None,
        execution_timeout: float | None = None,
    ) -> str:
        """Start an execution and return its id; a repeated `execution_name` returns the first one's id."""
        if not isinstance(function, str):
            function = as_durable_handler(function) or function
        name: str = function if isinstance(function, str) else str(getattr(function, "name", ""))
        if not isinstance(function, str) and not isinstance(function, DurableHandler):
            raise ValidationError(f"start takes a registered function's name or a durable handler, got {function!r}")
        if self.registry.get(name) is None:
            if isinstance(function, DurableHandler):
                self.register(function)
            else:
                raise ValidationError(self.unknown_function(name))
        if execution_name is not None:
            check_name(execution_name, "the execution name")
        if execution_timeout is not None:
            execution_timeout = check_seconds(execution_timeout, "execution_timeout")
        payload = dump_json(input, "the execution input")
        check_size(payload, "the execution input")
        record, _ = self._create(uuid.uuid4().hex, name, payload, execution_name, execution_timeout)
        return str(record.execution_id)

    def start_chained(
        self,
        execution_id: str,
        function_name: str,
        payload: str | None,
        parent: tuple[str, str],
        tenant_id: str | None = None,
        execution_timeout: float | None = None,
    ) -> ExecutionRecord:
        """Start (once: the id is the idempotency key) the execution a `context.invoke` asked for.

        If it already ended, its caller is told again, so a caller that crashed
        between the two still learns the outcome.
        """
        record, created = self._create(execution_id, function_name, payload, None, execution_timeout, parent, tenant_id)
        if not created and record.status.is_terminal:
            self.invoker.tell_caller(record)
        return record

    def unknown_function(self, name: str) -> str:
        known = ", ".join(self.registry.names()) or "none"
        return f"unknown function {name[:MAX_NAME_LENGTH]!r}: this engine runs only registered functions ({known})"

    def _create(
        self,
        execution_id: str,
        function_name: str,
        payload: str | None,
        execution_name: str | None,
        execution_timeout: float | None,
        parent: tuple[str, str] | None = None,
        tenant_id: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        now = self.clock.now()
        deadline = self.clock.wall() + execution_timeout if execution_timeout else None
        details: dict[str, Any] = {"Input": {"Payload": payload}}
        if execution_timeout:
            details["ExecutionTimeout"] = execution_timeout
        if parent is not None:
            details["ParentExecutionArn"] = parent[0]
        if tenant_id is not None:
            details["TenantId"] = tenant_id
        started = HistoryEvent("ExecutionStarted", now, details)
        record, created = self._ask(
            self.writer,
            lambda f: CreateExecution(
                execution_id, function_name, payload, execution_name, deadline, started, f, parent, tenant_id
            ),
        )
        if created and self.execute:
            logger.debug("started execution {} of {}", record.execution_id, function_name)
            self.topology.tell(self.dispatcher, Ready((record.execution_id,)))
        return record, created

    def stop(self, execution_id: str, error: ErrorObject | None = None) -> ExecutionRecord:
        """End a running execution as STOPPED; its running invocation's later writes are rejected."""
        record = self._require(execution_id)
        if error is not None:
            _check_error(error, "the stop error")
        if record.status.is_terminal:
            return record
        now = self.clock.now()
        ws = end_execution(execution_id, ExecutionStatus.STOPPED, "ExecutionStopped", now, error)
        with contextlib.suppress(CheckpointRejectedError):
            self.invoker.end_with(ws)
        stopped = self._require(execution_id)
        self.invoker.tell_caller(stopped)
        return stopped

    # ----- callbacks from outside

    def send_callback_success(self, callback_id: str, payload: str | bytes | None = None) -> None:
        """Complete a callback with a result payload (kept verbatim; None for no result).

        UnknownCallbackError for a forged, mutated or unknown id; CallbackConflictError if it
        already completed or timed out (the first outcome stands); PayloadTooLargeError over 256 KiB.
        """
        if isinstance(payload, (bytes, bytearray)):
            try:
                payload = bytes(payload).decode()
            except UnicodeDecodeError as error:
                raise ValidationError(f"a callback result must be UTF-8 text: {error}") from None
        if payload is not None:
            if not isinstance(payload, str):
                raise ValidationError(f"a callback result is text or bytes, got {type(payload).__name__}")
            check_text(payload, "the callback result")
            check_size(payload, "the callback result")
        self._signal(callback_id, CallbackAction.SUCCEED, payload, None)

    def send_callback_failure(self, callback_id: str, error: ErrorObject | dict[str, Any] | None = None) -> None:
        """Fail a callback with an error (an ErrorObject, or a dict with ErrorType/ErrorMessage/...)."""
        if isinstance(error, dict):
            check_json_value(error, "the callback error")
            unknown = sorted(set(error) - _ERROR_FIELDS)
            if unknown:
                raise ValidationError(
                    f"the callback error has an unknown field {unknown[0]!r}: it takes "
                    "ErrorType, ErrorMessage, ErrorData and StackTrace"
                )
            error = ErrorObject.from_dict(error)
        if error is not None:
            _check_error(error, "the callback error")
        self._signal(callback_id, CallbackAction.FAIL, None, error)

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """Push the callback's heartbeat deadline forward; the callback stays open."""
        self._signal(callback_id, CallbackAction.HEARTBEAT, None, None)

    def _signal(
        self, callback_id: str, action: CallbackAction, payload: str | None, error: ErrorObject | None
    ) -> None:
        if not isinstance(callback_id, str) or not callback_id:
            raise UnknownCallbackError()
        self._ask(self.external, lambda f: CallbackSignal(callback_id, action, payload, error, f))

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Block until the execution ends; TimeoutError if it has not by `timeout` seconds."""
        self._require(execution_id)
        future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        self.topology.tell(self.completions, AwaitEnd(execution_id, future))
        try:
            return future.get(timeout=timeout)
        except pykka.Timeout as error:
            raise TimeoutError(f"execution {execution_id} did not end within {timeout} s") from error

    def status(self, execution_id: str) -> ExecutionRecord:
        return self._require(execution_id)

    def result(self, execution_id: str) -> Any:
        record = self._require(execution_id)
        return json.loads(record.result) if record.result is not None else None

    def error(self, execution_id: str) -> ErrorObject | None:
        return self._require(execution_id).error

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        self._require(execution_id)
        return self.store.history(execution_id)

    def operations(self, execution_id: str) -> list[OperationRecord]:
        return self.store.load_operations(execution_id)

    def list(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]:
        return self.store.list_executions(status, limit)

    def page(self, query: ExecutionQuery) -> builtins.list[ExecutionRecord]:
        """One page of executions, newest first (keyset: the next page starts `before` the last one's cursor)."""
        return self.store.page_executions(query)

    def stats(self) -> dict[str, Any]:
        dispatcher: dict[str, Any] = cast(dict[str, Any], self.dispatcher.ask(DispatcherStats()))
        return {
            **dispatcher,
            "transactions": self.writer.ask(WriterStats()),
            "next_alarm": self.alarm_manager.ask(NextAlarm()),
        }

    def skip_time(self, on: bool) -> None:
        """With a virtual clock: jump to the next alarm whenever the engine is idle (or stop doing so).

        Work handed to the engine before this call (a start, a callback) is
        seen by the Dispatcher first, so an engine about to run it never looks
        idle to the AlarmManager once skipping is on.
        """
        self._ask(self.dispatcher, Settle)
        self.topology.tell(self.alarm_manager, SkipTime(on))

    def topology_dot(self) -> str:
        """The actor picture (Graphviz DOT), with each worker's current counters on its node."""
        return self.topology_picture().dot

    def topology_picture(self) -> TopologyPicture:
        """The actor picture: actors, message counts since start, DOT and the graph as data."""
        self.dispatcher.ask(DispatcherStats())
        return self.topology.picture()

    def subscribe_ticks(self, ref: pykka.ActorRef[Any] | None, on: bool) -> None:
        """Let an invocation's TimerScheduler hear the engine's ticks (or stop hearing them)."""
        if ref is None:
            return
        if on:
            self.ticker.subscribe(ref)
        else:
            self.ticker.unsubscribe(ref)

    def _require(self, execution_id: str) -> ExecutionRecord:
        record = self.store.get_execution(execution_id)
        if record is None:
            raise ValidationError(f"unknown execution {execution_id[:MAX_NAME_LENGTH]!r}")
        return record

    def _ask(self, ref: pykka.ActorRef[Any], make: Callable[[pykka.ThreadingFuture[Any]], Any]) -> Any:
        return self.invoker.ask(ref, make)

    # ----- recovery and shutdown

    def recover(self) -> None:
        """Pick up what a previous engine process on this store left unfinished.

        On a shared store that is the members' business: an engine that died is
        declared dead when its lease runs out, and its work is handed on then.
        """
        now = self.clock.now()
        if self.shared:
            for record in self.store.ended_children_of_running_callers():
                self.invoker.tell_caller(record)
            return
        crashed = set(self.store.open_invocations())
        for execution_id in crashed:
            error = ErrorObject("the process running the invocation exited", "Runtime.ExitError")
            ws = close_invocation(execution_id, None, now, error)
            self._ask(self.writer, _persist_request(ws))
        for record in self.store.ended_children_of_running_callers():
            self.invoker.tell_caller(record)
        alarms = dict(self.store.stored_alarms())
        for execution_id, due in alarms.items():
            self.topology.tell(self.alarm_client, AlarmCommitted(execution_id, due))
        ready = [
            r.execution_id
            for r in self.store.list_executions(ExecutionStatus.RUNNING, limit=1_000_000)
            if r.execution_id not in alarms or r.execution_id in crashed
        ]
        if ready:
            logger.info("recovering {} execution(s) left running by a previous engine", len(ready))
            self.topology.tell(self.dispatcher, Ready(tuple(ready)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.ticker.stop()
        if self.wake_listener is not None:
            self.wake_listener.stop()
        try:
            stats = json.dumps(self.stats(), default=str)
            self._ask(self.writer, lambda f: SaveMeta("engine.stats", stats, f))
            picture = self.topology.picture()
            self._ask(self.writer, lambda f: SaveMeta("topology.dot", picture.dot, f))
            graph = json.dumps(picture.graph.to_dict())
            self._ask(self.writer, lambda f: SaveMeta("topology.json", graph, f))
        except Exception as error:
            logger.warning("could not save the engine's counters and topology: {}", error)
        for ref in (
            self.member, self.dispatcher, self.external, self.alarm_client, self.alarm_manager, self.completions,
            self.writer,
        ):
            if ref is not None:
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.stop(timeout=5)
        if self.shared:
            try:
                self.store.leave(self.clock.now())  # type: ignore[attr-defined]
            except Exception as error:
                logger.warning("could not release this engine's lease: {}", error)
        self.branch_pool.shutdown()
        self.topology.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the fields of an error object in the AWS shape
_ERROR_FIELDS = frozenset({"ErrorType", "ErrorMessage", "ErrorData", "StackTrace"})


def _check_error(error: ErrorObject, what: str) -> None:
    """An error object from outside: its fields are text (or a list of text lines) within the size limit."""
    if not isinstance(error, ErrorObject):
        raise ValidationError(f"{what} must be an ErrorObject or a dict, got {type(error).__name__}")
    fields = error.to_dict()
    for key, value in fields.items():
        if key == "StackTrace":
            if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
                raise ValidationError(f"{what}'s field 'StackTrace' must be a list of text lines")
        elif not isinstance(value, str):
            raise ValidationError(f"{what}'s field {key!r} must be text")
    check_json_value(fields, what)
    check_size(json.dumps(fields), what)


def _function_entries(functions: dict[str, Any] | Iterable[Any] | None) -> list[tuple[Any, ...]]:
    if functions is None:
        return []
    if isinstance(functions, dict):
        return [(name, handler) for name, handler in functions.items()]
    return [(handler,) for handler in functions]


def _persist_request(ws: WriteSet) -> Callable[[pykka.ThreadingFuture[Any]], Persist]:
    return lambda future: Persist(ws, future)
