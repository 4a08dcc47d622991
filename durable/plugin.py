"""Instrumentation plugins: hooks the runtime calls as invocations, operations and user code run.

Subclass `DurableInstrumentationPlugin`, override the hooks you need, and
pass instances to `@durable_execution(plugins=[...])`.  The names, records
and firing rules are the AWS SDK's (`aws_durable_execution_sdk_python.plugin`):

* `on_invocation_start` / `on_invocation_end`: around every invocation of
  the handler.  `is_first_invocation` is true when nothing but the execution
  itself was checkpointed before this invocation.  The end record carries how
  the invocation ended: SUCCEEDED or FAILED (the execution's outcome),
  PENDING (it suspended), or RETRY (the runtime itself failed and the
  invocation will be run again).
* `on_operation_start`: before an operation's START checkpoint is sent
  (`is_replayed` says whether the operation existed before, as a step retry
  or a polled wait_for_condition does), and when replay meets an operation a
  previous invocation left non-terminal (not READY), with `is_replayed=True`,
  at most once per invocation.  It always precedes the operation's
  `on_user_function_start`.
* `on_operation_end`: once per operation, when it reaches a terminal
  status: through this invocation's checkpoint, or outside the handler (a
  wait that fired, a callback completed, a chained invoke that ended), which
  is reported when the handler reaches the operation, or at the end of the
  invocation in which it happened if the handler does not.  Replays never
  report an end again (one exception: an outside completion that lands
  while an invocation ends, when the engine restarts before the next one).
  A virtual (FLAT) map or parallel branch, and a context re-run to rebuild
  a large result, report their end without a checkpoint.
* `on_operation_change`: after a checkpoint is merged, with the operations
  whose status changed and every operation this invocation knows.  A START
  that is merged together with the operation's end shows up as the end only.
* `on_user_function_start` / `on_user_function_end`: around the user code
  of a step attempt, a wait_for_condition check, and a child context body
  (map items and parallel branches included; `is_replay_children` when the
  body re-runs to rebuild a result too large to checkpoint).  No end is
  reported when the code suspends.

How hooks run
-------------
A hook never changes the execution: an exception it raises is logged
(loguru, logger `durable.plugin`) and ignored, and a hook that does not
return within the hook timeout is abandoned.  That is why hooks do not run
on the caller's thread: a Python thread cannot be interrupted, so a hung
hook on the handler's thread would hang the invocation.  Each call is handed
to a hook-runner thread and the caller waits for it, at most the timeout
(`DEFAULT_HOOK_TIMEOUT` seconds, or `$DURABLE_PLUGIN_HOOK_TIMEOUT`):

* the hook runs in a copy of the caller's `contextvars` context, and what it
  sets there (an OpenTelemetry span it attaches, say) is set in the caller's
  context when it returns, so the caller sees it as if the hook had run on
  its own thread; `threading.local` state is not carried over;
* the caller waits for each hook in turn, so one thread's hooks are seen in
  order, and the hooks of one plugin are seen in the order they fired;
* a hook that times out is logged, and that plugin's hooks are skipped (not
  queued) while the abandoned call still runs, in this invocation and later
  ones: a hung plugin costs one timeout, not one per hook.  The abandoned
  call's runner thread is left to finish on its own.

No lock is taken anywhere: runners receive work on `queue.SimpleQueue`s, idle
runners wait in a SimpleQueue, and the little shared state (the calls still
running after a timeout) lives in dicts changed only by single atomic
operations.  `current_invocation()` tells a hook (and, after the first hook,
the code of the thread that fired it) which invocation it belongs to, since
one plugin instance serves every invocation of a handler, concurrently.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import enum
import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from durable.core.records import (
    ErrorObject,
    InvocationStatus,
    OperationAction,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
    RecordUpdate,
)
from durable.identifier import OperationIdentifier
from durable.lambda_service import DurableExecutionInvocationOutput as DurableExecutionInvocationOutput
from durable.lambda_service import Operation as Operation
from durable.lambda_service import OperationUpdate as OperationUpdate
from durable.types import LambdaContext as LambdaContext

__all__ = [
    "DEFAULT_HOOK_TIMEOUT",
    "HOOK_TIMEOUT_ENV",
    "DurableInstrumentationPlugin",
    "InvocationEndInfo",
    "InvocationInfo",
    "InvocationStartInfo",
    "OperationChangeInfo",
    "OperationEndInfo",
    "OperationInfo",
    "OperationStartInfo",
    "PluginExecutor",
    "UserFunctionEndInfo",
    "UserFunctionOutcome",
    "UserFunctionStartInfo",
    "current_invocation",
]

#: Seconds a hook may run before the runtime stops waiting for it.
DEFAULT_HOOK_TIMEOUT = 10.0
#: Environment variable overriding DEFAULT_HOOK_TIMEOUT (seconds, > 0); worker processes inherit it.
HOOK_TIMEOUT_ENV = "DURABLE_PLUGIN_HOOK_TIMEOUT"

_TERMINAL = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.TIMED_OUT,
        OperationStatus.CANCELLED,
        OperationStatus.STOPPED,
    }
)


def _utc(timestamp: float | None) -> datetime.datetime | None:
    """A record's float timestamp as the aware UTC datetime the info records carry."""
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _extract_result(operation: OperationRecord) -> str | None:
    return operation.result


def _extract_error(operation: OperationRecord) -> ErrorObject | None:
    # A retried step keeps its last attempt's error on the record; once it has succeeded that is history.
    if operation.status is OperationStatus.SUCCEEDED:
        return None
    return operation.error


def _recorded_fields(operation: OperationRecord) -> dict[str, Any]:
    """What an operation info says of a checkpointed operation (times as UTC datetimes)."""
    return {
        "operation_id": operation.operation_id,
        "operation_type": operation.operation_type,
        "sub_type": operation.sub_type,
        "name": operation.name,
        "parent_id": operation.parent_id,
        "start_time": _utc(operation.start_timestamp),
        "end_time": _utc(operation.end_timestamp),
        "result": _extract_result(operation),
        "error": _extract_error(operation),
        "attempt": _extract_attempt(operation),
        "status": operation.status,
    }


def _extract_attempt(operation: OperationRecord) -> int | None:
    if operation.operation_type is not OperationType.STEP:
        return None
    return operation.attempt or None


# ----- records


@dataclass(frozen=True)
class OperationInfo:
    operation_id: str
    operation_type: OperationType
    sub_type: OperationSubType | None
    name: str | None
    parent_id: str | None
    start_time: datetime.datetime | None
    is_replayed: bool
    status: OperationStatus
    end_time: datetime.datetime | None = field(default=None, kw_only=True)
    result: str | None = field(default=None, kw_only=True)
    error: ErrorObject | None = field(default=None, kw_only=True)
    attempt: int | None = field(default=None, kw_only=True)

    @staticmethod
    def from_operation(operation: OperationRecord, *, is_replayed: bool = False) -> OperationInfo:
        """The info record for a checkpointed operation (times as UTC datetimes)."""
        return OperationInfo(**_recorded_fields(operation), is_replayed=is_replayed)


@dataclass(frozen=True)
class OperationStartInfo(OperationInfo):
    pass


@dataclass(frozen=True)
class OperationEndInfo(OperationInfo):
    pass


@dataclass(frozen=True)
class OperationChangeInfo:
    execution_arn: str | None
    updated_operations: dict[str, OperationInfo]
    operations: dict[str, OperationInfo]


class UserFunctionOutcome(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @classmethod
    def from_error(cls, error: ErrorObject | None) -> UserFunctionOutcome:
        return cls.SUCCEEDED if error is None else cls.FAILED


@dataclass(frozen=True)
class UserFunctionStartInfo(OperationInfo):
    #: the user function runs again so that its (checkpointed) children replay: a map or parallel whose
    #: result was too large to checkpoint is rebuilt this way
    is_replay_children: bool = False


@dataclass(frozen=True)
class UserFunctionEndInfo(OperationInfo):
    is_replay_children: bool
    outcome: UserFunctionOutcome

    @classmethod
    def from_start_info(cls, start_info: UserFunctionStartInfo, error: ErrorObject | None) -> UserFunctionEndInfo:
        return UserFunctionEndInfo(
            operation_id=start_info.operation_id,
            operation_type=start_info.operation_type,
            sub_type=start_info.sub_type,
            name=start_info.name,
            parent_id=start_info.parent_id,
            start_time=start_info.start_time,
            is_replayed=start_info.is_replayed,
            status=start_info.status,
            is_replay_children=start_info.is_replay_children,
            attempt=start_info.attempt,
            outcome=UserFunctionOutcome.from_error(error),
            end_time=_now(),
            error=error,
        )


@dataclass(frozen=True)
class InvocationInfo:
    request_id: str | None
    execution_arn: str | None
    is_first_invocation: bool
    execution_start_time: datetime.datetime | None = None


@dataclass(frozen=True)
class InvocationStartInfo(InvocationInfo):
    pass


@dataclass(frozen=True)
class InvocationEndInfo(InvocationInfo):
    status: InvocationStatus = field(kw_only=True)
    error: ErrorObject | None = None

    @classmethod
    def from_durable_execution_invocation_output(
        cls, invocation_start_info: InvocationStartInfo, output: Any
    ) -> InvocationEndInfo:
        """`output`: how the invocation ended: `status` (an InvocationStatus, a status enum or its name), `error`."""
        raw = output.status
        status = raw if isinstance(raw, InvocationStatus) else InvocationStatus(getattr(raw, "value", raw))
        return InvocationEndInfo(
            request_id=invocation_start_info.request_id,
            execution_arn=invocation_start_info.execution_arn,
            is_first_invocation=invocation_start_info.is_first_invocation,
            execution_start_time=invocation_start_info.execution_start_time,
            status=status,
            error=getattr(output, "error", None),
        )


class DurableInstrumentationPlugin:
    """Base class of plugins: every hook does nothing; override the ones you need.

    Hooks run on a hook-runner thread while the thread that fired them waits
    (see the module docstring): contextvars they set reach that thread.
    """

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        """An invocation starts, before the handler runs; fired from the invocation's thread."""

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        """An invocation ended (after every other hook of it); fired from the invocation's thread."""

    def on_operation_start(self, info: OperationStartInfo) -> None:
        """An operation's START is about to be checkpointed, or replay met it non-terminal."""

    def on_operation_end(self, info: OperationEndInfo) -> None:
        """An operation reached a terminal status; never repeated for the same operation on replay."""

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        """Checkpointed operations changed status: the changed ones, and every known operation."""

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        """User code of an operation is about to run; fired from the thread that runs it."""

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        """User code of an operation returned or raised (not when it suspended); fired from its thread."""


# ----- running hooks

_CURRENT_INVOCATION: contextvars.ContextVar[InvocationStartInfo | None] = contextvars.ContextVar(
    "durable_plugin_invocation", default=None
)
_MISSING = object()


def current_invocation() -> InvocationStartInfo | None:
    """The invocation whose hook is running (in a hook), or whose hooks this thread fired last."""
    return _CURRENT_INVOCATION.get()


def hook_timeout_from_env() -> float:
    """`$DURABLE_PLUGIN_HOOK_TIMEOUT` if it is a positive number of seconds, else DEFAULT_HOOK_TIMEOUT."""
    raw = os.environ.get(HOOK_TIMEOUT_ENV)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if value > 0:
            return value
        logger.warning("ignoring {}={!r}: not a positive number of seconds", HOOK_TIMEOUT_ENV, raw)
    return DEFAULT_HOOK_TIMEOUT


class _HookCall:
    """One hook call: run by a runner inside `context`, answered on `done`."""

    __slots__ = ("context", "done", "finished", "info", "invocation", "plugin")

    def __init__(self, plugin: DurableInstrumentationPlugin, info: Any, invocation: InvocationStartInfo | None) -> None:
        self.plugin = plugin
        self.info = info
        self.invocation = invocation
        self.context = contextvars.copy_context()
        self.done: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self.finished = False

    def run(self) -> None:
        try:
            self.context.run(self._in_context)
        except BaseException as error:  # a hook's SystemExit or KeyboardInterrupt must not end the runner
            _log_hook_failure(self.plugin, self.info, error)

    def _in_context(self) -> None:
        _CURRENT_INVOCATION.set(self.invocation)
        PluginExecutor._dispatch_plugin(self.plugin, self.info)

    def carry_back(self) -> None:
        """Set in the calling thread's context what the hook set in its copy."""
        for var, value in self.context.items():
            if var.get(_MISSING) is not value:
                var.set(value)


def _log_hook_failure(plugin: DurableInstrumentationPlugin, info: Any, error: BaseException) -> None:
    logger.opt(exception=error).warning(
        "plugin {} raised {} in {}; ignored", type(plugin).__name__, type(error).__name__, _hook_name(info)
    )


_HOOK_NAMES: dict[type, str] = {
    InvocationStartInfo: "on_invocation_start",
    InvocationEndInfo: "on_invocation_end",
    OperationStartInfo: "on_operation_start",
    OperationEndInfo: "on_operation_end",
    OperationChangeInfo: "on_operation_change",
    UserFunctionStartInfo: "on_user_function_start",
    UserFunctionEndInfo: "on_user_function_end",
}


def _hook_name(info: Any) -> str:
    return _HOOK_NAMES.get(type(info), type(info).__name__)


def _overrides(plugin: DurableInstrumentationPlugin, hook: str) -> bool:
    """Does the plugin do something in `hook`, i.e. not inherit the base class's no-op?"""
    mine = getattr(type(plugin), hook, None)
    return mine is not getattr(DurableInstrumentationPlugin, hook) or hook in getattr(plugin, "__dict__", {})


class _HookRunner:
    """A daemon thread running hook calls one at a time; it rejoins `idle` after each."""

    def __init__(self, idle: queue.SimpleQueue[_HookRunner]) -> None:
        self.idle = idle
        self.inbox: queue.SimpleQueue[_HookCall | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="durable-plugin-hooks", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            call = self.inbox.get()
            if call is None:
                return
            call.run()
            call.finished = True
            # Idle again before answering, so the caller's next hook finds this runner free.
            self.idle.put(self)
            call.done.put(True)


#: Calls that timed out and may still be running, by plugin id: that plugin gets no hooks meanwhile.
_ABANDONED: dict[int, _HookCall] = {}


class PluginExecutor:
    """Fires hooks for one invocation at a time (`run()`), each bounded by the hook timeout.

    The runtime makes one per invocation; the methods below turn what the
    runtime knows (records, updates, outcomes) into info records.
    """

    def __init__(
        self, plugins: Sequence[DurableInstrumentationPlugin] | None, hook_timeout: float | None = None
    ) -> None:
        self._plugins: list[DurableInstrumentationPlugin] = list(plugins or [])
        self._timeout = hook_timeout if hook_timeout is not None else hook_timeout_from_env()
        self._running = False
        self._invocation_status: InvocationStartInfo | None = None
        self._idle: queue.SimpleQueue[_HookRunner] = queue.SimpleQueue()
        self._runners: list[_HookRunner] = []
        self._warned: dict[int, object] = {}
        self._infos: dict[str, tuple[OperationRecord, OperationInfo]] = {}
        # Per hook, the plugins that override it: the others' (no-op) hook is not worth a thread hand-off.
        self._listeners: dict[str, list[DurableInstrumentationPlugin]] = {
            hook: [p for p in self._plugins if _overrides(p, hook)] for hook in _HOOK_NAMES.values()
        }

    def wants(self, hook: str) -> bool:
        """Whether any plugin overrides `hook` (e.g. "on_operation_change"): if none does, nothing is built for it."""
        return bool(self._listeners.get(hook))

    @property
    def plugins(self) -> list[DurableInstrumentationPlugin]:
        return list(self._plugins)

    @property
    def hook_timeout(self) -> float:
        return self._timeout

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """Hooks fire only inside this block; leaving it lets every runner exit once idle."""
        # Fresh runners per block: those of an earlier block were told to exit.
        self._idle = queue.SimpleQueue()
        self._runners = []
        self._running = bool(self._plugins)
        try:
            yield
        finally:
            self._running = False
            self._invocation_status = None
            for runner in list(self._runners):
                runner.inbox.put(None)

    @staticmethod
    def _dispatch_plugin(plugin: DurableInstrumentationPlugin, info: Any) -> None:
        """Call the hook `info` is for; an exception is logged and ignored."""
        try:
            match info:
                case InvocationStartInfo():
                    plugin.on_invocation_start(info)
                case InvocationEndInfo():
                    plugin.on_invocation_end(info)
                case OperationStartInfo():
                    plugin.on_operation_start(info)
                case OperationEndInfo():
                    plugin.on_operation_end(info)
                case OperationChangeInfo():
                    plugin.on_operation_change(info)
                case UserFunctionStartInfo():
                    plugin.on_user_function_start(info)
                case UserFunctionEndInfo():
                    plugin.on_user_function_end(info)
                case _:
                    raise RuntimeError(f"no hook takes a {type(info).__name__}")
        except Exception as error:
            _log_hook_failure(plugin, info, error)

    def execute_plugins(self, info: Any, sync: bool) -> None:
        """Fire `info`'s hook on every plugin, in order; `sync` waits for each (up to the timeout)."""
        if not self._running:
            return
        for plugin in self._listeners.get(_hook_name(info), self._plugins):
            self._call(plugin, info, sync)

    def _call(self, plugin: DurableInstrumentationPlugin, info: Any, sync: bool) -> None:
        key = id(plugin)
        abandoned = _ABANDONED.get(key)
        if abandoned is not None and abandoned.plugin is plugin:
            if not abandoned.finished:
                claim = object()
                if self._warned.setdefault(key, claim) is claim:
                    logger.warning(
                        "plugin {} skipped: an earlier hook of it is still running past the {} s hook timeout",
                        type(plugin).__name__, self._timeout,
                    )
                return
            _ABANDONED.pop(key, None)
        call = _HookCall(plugin, info, self._invocation_status)
        self._runner().inbox.put(call)
        if not sync:
            return
        try:
            call.done.get(timeout=self._timeout)
        except queue.Empty:
            _ABANDONED[key] = call
            self._warned[key] = call
            logger.warning(
                "plugin {} did not return from {} within {} s; the invocation goes on without it",
                type(plugin).__name__, _hook_name(info), self._timeout,
            )
            return
        call.carry_back()

    def _runner(self) -> _HookRunner:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            runner = _HookRunner(self._idle)
            self._runners.append(runner)
            return runner

    def _info_of(self, operation: OperationRecord) -> OperationInfo:
        """OperationInfo.from_operation, remembered per record: change hooks convert whole maps."""
        cached = self._infos.get(operation.operation_id)
        if cached is not None and cached[0] is operation:
            return cached[1]
        info = OperationInfo.from_operation(operation)
        self._infos[operation.operation_id] = (operation, info)
        return info

    # ----- the runtime's calls

    def on_invocation_start(
        self,
        execution_arn: str,
        is_first_invocation: bool,
        execution_start_time: datetime.datetime | None,
        lambda_context: Any = None,
        *,
        request_id: str | None = None,
    ) -> None:
        """`request_id`, else `lambda_context.aws_request_id` when given, names the invocation."""
        if request_id is None and lambda_context is not None:
            request_id = getattr(lambda_context, "aws_request_id", None)
        self._invocation_status = InvocationStartInfo(
            request_id=request_id,
            execution_arn=execution_arn,
            is_first_invocation=is_first_invocation,
            execution_start_time=execution_start_time,
        )
        self.execute_plugins(self._invocation_status, sync=True)

    def on_invocation_end(self, output: Any) -> None:
        """`output`: how the invocation ended (`status` and `error`); nothing if it never started."""
        if self._invocation_status is None:
            return
        info = InvocationEndInfo.from_durable_execution_invocation_output(self._invocation_status, output)
        self.execute_plugins(info, sync=True)

    def on_user_function_start(
        self, operation_identifier: OperationIdentifier, is_replay_children: bool = False, attempt: int | None = None
    ) -> UserFunctionStartInfo:
        start_info = UserFunctionStartInfo(
            operation_id=operation_identifier.operation_id,
            operation_type=operation_identifier.type,
            sub_type=operation_identifier.sub_type,
            name=operation_identifier.name,
            parent_id=operation_identifier.parent_id,
            start_time=_now(),
            is_replayed=False,
            status=OperationStatus.STARTED,
            is_replay_children=is_replay_children,
            attempt=attempt,
        )
        self.execute_plugins(start_info, sync=True)
        return start_info

    def on_user_function_end(self, start_info: UserFunctionStartInfo, error: ErrorObject | None) -> None:
        self.execute_plugins(UserFunctionEndInfo.from_start_info(start_info, error), sync=True)

    def on_operation_action(
        self,
        update: RecordUpdate,
        operation: OperationRecord | None = None,
        previous_operation: OperationRecord | None = None,
    ) -> None:
        """Before a checkpoint is sent: a START fires on_operation_start (replayed if the operation existed)."""
        if update.action is not OperationAction.START:
            return
        self.execute_plugins(
            OperationStartInfo(
                operation_id=update.operation_id,
                operation_type=update.operation_type,
                sub_type=update.sub_type,
                name=update.name,
                parent_id=update.parent_id,
                start_time=_utc(operation.start_timestamp) if operation is not None else None,
                is_replayed=previous_operation is not None,
                status=OperationStatus.STARTED,
            ),
            sync=True,
        )

    def on_operation_replay(self, operation: OperationRecord) -> None:
        """Replay met `operation`, checkpointed by an earlier invocation; fires only while it is non-terminal."""
        if self._is_terminal_status(operation.status):
            return
        self.execute_plugins(
            OperationStartInfo(
                operation_id=operation.operation_id,
                operation_type=operation.operation_type,
                sub_type=operation.sub_type,
                name=operation.name,
                parent_id=operation.parent_id,
                start_time=_utc(operation.start_timestamp),
                is_replayed=True,
                status=operation.status,
                attempt=_extract_attempt(operation),
            ),
            sync=True,
        )

    def on_child_context_end(
        self,
        operation_identifier: OperationIdentifier,
        status: OperationStatus,
        *,
        error: ErrorObject | None = None,
        is_replayed: bool = False,
    ) -> None:
        """A child context ended without a checkpoint of its own (virtual, or re-run to rebuild its result)."""
        self.execute_plugins(
            OperationEndInfo(
                operation_id=operation_identifier.operation_id,
                operation_type=operation_identifier.type,
                sub_type=operation_identifier.sub_type,
                name=operation_identifier.name,
                parent_id=operation_identifier.parent_id,
                start_time=None,
                end_time=_now(),
                status=status,
                error=error,
                is_replayed=is_replayed,
            ),
            sync=True,
        )

    def on_operation_update(
        self,
        operation_or_operations: OperationRecord | Sequence[OperationRecord] | None,
        operations: Mapping[str, OperationRecord] | None = None,
        previous_operations: Mapping[str, OperationRecord] | None = None,
    ) -> None:
        """Operations were merged: each terminal one fires on_operation_end; with both maps, changes fire too.

        The runtime reports each end once (see `durable.plugin_session`); this
        method reports what it is given.
        """
        if operation_or_operations is None:
            return
        updated: list[OperationRecord] = (
            list(operation_or_operations)
            if isinstance(operation_or_operations, list | tuple)
            else [operation_or_operations]  # type: ignore[list-item]
        )
        for operation in updated:
            if self._is_terminal_status(operation.status):
                self.execute_plugins(OperationEndInfo(**_recorded_fields(operation), is_replayed=False), sync=True)
        if operations is not None and previous_operations is not None:
            self.report_change(updated, operations, previous_operations)

    def report_change(
        self,
        updated: Sequence[OperationRecord],
        operations: Mapping[str, OperationRecord],
        previous_operations: Mapping[str, OperationRecord],
    ) -> None:
        """on_operation_change for those of `updated` that are new or changed status since `previous_operations`."""
        if self._invocation_status is None or not self.wants("on_operation_change"):
            return
        changed = [
            operation
            for operation in updated
            if (previous := previous_operations.get(operation.operation_id)) is None
            or previous.status is not operation.status
        ]
        if not changed:
            return
        everything = dict(operations)  # one atomic copy: branches may add operations meanwhile
        self.execute_plugins(
            OperationChangeInfo(
                execution_arn=self._invocation_status.execution_arn,
                updated_operations={op.operation_id: self._info_of(op) for op in changed},
                operations={op_id: self._info_of(op) for op_id, op in everything.items()},
            ),
            sync=True,
        )

    @staticmethod
    def _extract_error(operation: OperationRecord) -> ErrorObject | None:
        return _extract_error(operation)

    @staticmethod
    def _is_terminal_status(status: OperationStatus) -> bool:
        return status in _TERMINAL

    @property
    def handle_durable_output(self) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a function that runs one invocation and returns its outcome (`status`, `error`).

        The call runs inside `run()`; its outcome fires on_invocation_end, and
        an exception fires it with RETRY and the error before propagating.  The
        function itself fires on_invocation_start.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.run():
                    try:
                        output = func(*args, **kwargs)
                    except Exception as error:
                        self.on_invocation_end(_Retry(ErrorObject.from_exception(error)))
                        raise
                    self.on_invocation_end(output)
                    return output

            return wrapper

        return decorator


@dataclass(frozen=True)
class _Retry:
    """The outcome of an invocation the runtime itself failed: it will be run again."""

    error: ErrorObject | None
    status: InvocationStatus = InvocationStatus.RETRY
