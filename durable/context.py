"""DurableContext: the front users call; each operation lives in `durable.operation`.

A context knows its invocation, its parent operation id (None at the top),
the prefix of the ids it hands out, and a counter: the n-th operation of a
context gets id `n` at the top level and `<prefix>-n` below, so the same code
path always asks for the same ids.  A virtual context (a FLAT map item or
parallel branch) takes ids under its own prefix but hangs its operations off
its parent.

Each context also knows whether it is replaying: it starts replaying when
the operations it will meet were checkpointed by an earlier invocation, and
stops at the first operation that is new work.  Its logger is silent while it
replays, so no line is logged twice; every branch of a map has its own
context, so one branch catching up does not silence another.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from durable.concurrency.models import BatchResult, envelope_summary_generator
from durable.config import (
    CallbackConfig,
    ChildConfig,
    Duration,
    InvokeConfig,
    MapConfig,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
    WaitForCallbackConfig,
)
from durable.core.records import OperationRecord, OperationSubType, OperationType
from durable.exceptions import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    StepError,
    SuspendExecution,
    ValidationError,
)
from durable.identifier import OperationIdentifier, OperationIdNamespace
from durable.invocation import Invocation
from durable.logger import Logger, LogInfo, root_logger
from durable.operation.callback import PASS_THROUGH_SERDES as PASS_THROUGH_SERDES
from durable.operation.callback import Callback, create_callback_id, wait_for_callback_handler
from durable.operation.child import child_handler
from durable.operation.invoke import run_invoke
from durable.operation.map import map_handler
from durable.operation.parallel import parallel_handler
from durable.operation.step import run_step
from durable.operation.wait import run_wait
from durable.operation.wait_for_condition import run_wait_for_condition
from durable.serdes import PassThroughSerDes, SerDes, deserialize
from durable.state import ReplayStatus
from durable.types import DurableContext as DurableContextProtocol
from durable.types import (
    LambdaContext,
    LoggerInterface,
    StepContext,
    WaitForCallbackContext,
    WaitForConditionCheckContext,
)
from durable.waits import WaitForConditionConfig

P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T")
U = TypeVar("U")
Params = ParamSpec("Params")

__all__ = [
    "PASS_THROUGH_SERDES",
    "Callback",
    "CallbackConfig",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildConfig",
    "ChildContextError",
    "DurableContext",
    "DurableContextProtocol",
    "Duration",
    "ExecutionContext",
    "InvokeConfig",
    "LogInfo",
    "Logger",
    "LoggerInterface",
    "MapConfig",
    "OperationIdNamespace",
    "OperationIdentifier",
    "OperationSubType",
    "OperationType",
    "ParallelBranch",
    "ParallelConfig",
    "PassThroughSerDes",
    "ReplayStatus",
    "SerDes",
    "StepConfig",
    "StepContext",
    "StepError",
    "SuspendExecution",
    "ValidationError",
    "WaitForCallbackConfig",
    "WaitForCallbackContext",
    "WaitForConditionCheckContext",
    "deserialize",
    "durable_parallel_branch",
    "durable_step",
    "durable_wait_for_callback",
    "durable_with_child_context",
]


@dataclasses.dataclass(frozen=True)
class ExecutionContext:
    durable_execution_arn: str


def durable_step(func: Callable[Concatenate[StepContext, Params], T]) -> Callable[Params, Callable[[StepContext], T]]:
    """Turn `f(step_context, *args)` into `f(*args)` returning a step named after `f`."""

    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Callable[[StepContext], T]:
        def function_with_arguments(step_context: StepContext) -> T:
            return func(step_context, *args, **kwargs)

        function_with_arguments._original_name = func.__name__  # type: ignore[attr-defined]
        return function_with_arguments

    return wrapper


def durable_with_child_context(
    func: Callable[Concatenate[DurableContext, Params], T],
) -> Callable[Params, Callable[[DurableContext], T]]:
    """Turn `f(child_context, *args)` into `f(*args)` returning a child function named after `f`."""

    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Callable[[DurableContext], T]:
        def function_with_arguments(child_context: DurableContext) -> T:
            return func(child_context, *args, **kwargs)

        function_with_arguments._original_name = func.__name__  # type: ignore[attr-defined]
        return function_with_arguments

    return wrapper


def durable_parallel_branch(
    name: str | None = None,
) -> Callable[[Callable[Concatenate[DurableContext, Params], T]], Callable[Params, ParallelBranch[T]]]:
    """`@durable_parallel_branch(name="...")`: `f(context, *args)` becomes `f(*args)` returning a ParallelBranch."""

    def decorator(func: Callable[Concatenate[DurableContext, Params], T]) -> Callable[Params, ParallelBranch[T]]:
        def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> ParallelBranch[T]:
            def function_with_arguments(context: DurableContext) -> T:
                return func(context, *args, **kwargs)

            return ParallelBranch(func=function_with_arguments, name=name)

        return wrapper

    return decorator


def durable_wait_for_callback(
    func: Callable[Concatenate[str, WaitForCallbackContext, Params], T],
) -> Callable[Params, Callable[[str, WaitForCallbackContext], T]]:
    """Turn `f(callback_id, wait_context, *args)` into `f(*args)` returning a submitter named after `f`."""

    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Callable[[str, WaitForCallbackContext], T]:
        def submitter_with_arguments(callback_id: str, context: WaitForCallbackContext) -> T:
            return func(callback_id, context, *args, **kwargs)

        submitter_with_arguments._original_name = func.__name__  # type: ignore[attr-defined]
        return submitter_with_arguments

    return wrapper


class _ReplayFlag:
    """A context's replay status, shared with its logger without the logger holding the context.

    A bound `is_replaying` would tie context and logger in a reference cycle,
    left to the garbage collector on every branch resume.
    """

    __slots__ = ("status",)

    def __init__(self, status: ReplayStatus) -> None:
        self.status = status

    def __call__(self) -> bool:
        return self.status is ReplayStatus.REPLAY


class _ReplayAware:
    """Keep a context's replay status right around one operation.

    Replay ends before an operation that is new work or a step still in
    progress (its function runs now, and logs), and after any other
    operation that was recorded but is not finished; it also ends when the
    operation is the last one recorded.  A class rather than a generator:
    every operation enters one, and a suspension unwinds through it.
    """

    __slots__ = ("context", "stop_after")

    def __init__(self, context: DurableContext) -> None:
        self.context = context
        self.stop_after = False

    def __enter__(self) -> None:
        context = self.context
        if not context.is_replaying():
            return
        upcoming = context._peek_next()
        finished = upcoming is not None and upcoming.status.is_terminal
        step = upcoming is not None and upcoming.operation_type is OperationType.STEP
        self.stop_after = upcoming is not None and not finished and not step
        if upcoming is None or (step and not finished):
            context._set_replay_status_new()

    def __exit__(self, *_exc: object) -> None:
        context = self.context
        if self.stop_after or (context.is_replaying() and context._peek_next() is None):
            context._set_replay_status_new()


class DurableContext(DurableContextProtocol):
    """What a durable handler receives as its second argument."""

    def __init__(
        self,
        state: Invocation,
        execution_context: ExecutionContext | None = None,
        lambda_context: LambdaContext | None = None,
        parent_id: str | None = None,
        logger: Logger | None = None,
        step_id_prefix: str | None = None,
        replay_status: ReplayStatus = ReplayStatus.NEW,
        known_new: bool = False,
        underlying_logger: LoggerInterface | None = None,
    ) -> None:
        self.state = state
        self.execution_context = execution_context or ExecutionContext(state.execution_arn)
        self.lambda_context = lambda_context
        self._parent_id = parent_id
        self._step_id_prefix = step_id_prefix if step_id_prefix is not None else parent_id
        self._operation_id_namespace = OperationIdNamespace(self._step_id_prefix)
        self._is_virtual = self._parent_id != self._step_id_prefix
        self._counter = itertools.count(1)
        self._issued = 0
        self._replay = _ReplayFlag(replay_status)
        self._known_new = known_new
        self._inherited_logger = logger
        self._underlying_logger = underlying_logger
        self._logger: Logger | None = None

    @property
    def logger(self) -> Logger:
        """Built on first use: most contexts (a branch's, replayed on every resume) never log."""
        if self._logger is None:
            if self._inherited_logger is not None:
                self._logger = self._inherited_logger.with_is_replaying(self._replay)
            else:
                self._logger = Logger.from_log_info(self._logs_to(), self._log_info(), self._replay)
        return self._logger

    @logger.setter
    def logger(self, logger: Logger) -> None:
        self._logger = logger

    @property
    def is_virtual(self) -> bool:
        return self._is_virtual

    @property
    def parent_id(self) -> str | None:
        return self._parent_id

    @property
    def tenant_id(self) -> str | None:
        """The tenant this execution runs for, when a `context.invoke` named one (ours)."""
        return self.state.tenant_id

    @staticmethod
    def from_lambda_context(
        state: Invocation, lambda_context: LambdaContext | None, replay_status: ReplayStatus = ReplayStatus.NEW
    ) -> DurableContext:
        return DurableContext(
            state, ExecutionContext(state.execution_arn), lambda_context, None, replay_status=replay_status,
            known_new=not state.has_prior_operations(),
        )

    def create_child_context(self, operation_id: str, *, is_virtual: bool = False) -> DurableContext:
        """The context operation `operation_id` runs in; it replays only if its own operation was recorded."""
        parent_id = self._parent_id if is_virtual else operation_id
        replaying = self.is_replaying() and (is_virtual or self.state.lookup(operation_id) is not None)
        return DurableContext(
            self.state, self.execution_context, self.lambda_context, parent_id, None,
            operation_id, ReplayStatus.REPLAY if replaying else ReplayStatus.NEW,
            known_new=self._is_known_new(operation_id), underlying_logger=self._logs_to(),
        )

    def _log_info(self) -> LogInfo:
        """What this context's own log records say of where they come from (made when a logger is)."""
        return LogInfo(execution_state=self.state, parent_id=self._parent_id)

    def _operation_logger(self, info: LogInfo) -> Logger:
        """`self.logger.with_log_info(info)`, without building this context's own logger when it has none
        yet (a branch's context is new on every resume, and its step's logger is all it needs)."""
        if self._logger is not None:
            return self._logger.with_log_info(info)
        return Logger.from_log_info(self._logs_to(), info, self._replay)

    def _logs_to(self) -> LoggerInterface:
        """The logger this context's records finally go to (a child's go to the same)."""
        if self._logger is not None:
            return self._logger.get_logger()
        if self._inherited_logger is not None:
            return self._inherited_logger.get_logger()
        return self._underlying_logger or root_logger()

    def set_logger(self, new_logger: LoggerInterface) -> None:
        """Log through `new_logger` (any logger with the stdlib call shape), keeping the fields and replay rule."""
        self.logger = Logger.from_log_info(new_logger, self._log_info(), self._replay)

    def is_replaying(self) -> bool:
        return self._replay.status is ReplayStatus.REPLAY

    def _set_replay_status_new(self) -> None:
        self._replay.status = ReplayStatus.NEW

    def _create_step_id(self) -> str:
        self._issued = next(self._counter)
        return self._operation_id_namespace.create_id_for_step(self._issued)

    def _peek_next(self) -> OperationRecord | None:
        return self.state.lookup(self._operation_id_namespace.create_id_for_step(self._issued + 1))

    def _is_known_new(self, operation_id: str) -> bool:
        """Whether nothing can be recorded at (or under) `operation_id`, the id this context issued last.

        True in a context whose whole namespace was new when it was made (the
        root of an execution with no checkpoints, or the child of an operation
        that was itself known new): only this context issues ids in it, once
        each.  Only the first lookup of an id, when its operation starts, may
        rely on this; later ones ask the ExecutionState.
        """
        return (
            self._known_new
            and self._issued > 0
            and operation_id == self._operation_id_namespace.create_id_for_step(self._issued)
        )

    def _is_new(self, identifier: OperationIdentifier) -> bool:
        """Whether nothing is recorded at `identifier` yet, so nothing is under it either (a batch's
        branches then replay from empty views: BatchSpec.new_batch)."""
        return identifier.known_new or self.state.lookup(identifier.operation_id) is None

    def _replay_aware(self) -> _ReplayAware:
        """Keep the replay status right around one operation (a `with` block; see `_ReplayAware`)."""
        return _ReplayAware(self)

    def _identifier(self, operation_id: str, sub_type: OperationSubType, name: str | None) -> OperationIdentifier:
        return OperationIdentifier(operation_id, sub_type, self._parent_id, name, self._is_known_new(operation_id))

    @staticmethod
    def _resolve_step_name(name: str | None, func: Callable[..., Any]) -> str | None:
        return name or getattr(func, "_original_name", None)

    def step(self, func: Callable[[StepContext], T], name: str | None = None, config: StepConfig | None = None) -> T:
        if not callable(func):
            raise ValidationError(f"step takes a function, got {type(func).__name__}")
        name = self._resolve_step_name(name, func)
        with self._replay_aware():
            identifier = self._identifier(self._create_step_id(), OperationSubType.STEP, name)
            return run_step(func, config or StepConfig(), self.state, identifier, self._operation_logger)

    def wait(self, duration: Duration, name: str | None = None) -> None:
        if not isinstance(duration, Duration):
            raise ValidationError(f"wait takes a Duration, got {type(duration).__name__}")
        if duration.to_seconds() < 1:
            raise ValidationError("duration must be at least 1 second")
        with self._replay_aware():
            identifier = self._identifier(self._create_step_id(), OperationSubType.WAIT, name)
            run_wait(duration.seconds, self.state, identifier)

    def wait_for_condition(
        self,
        check: Callable[[T, WaitForConditionCheckContext], T],
        config: WaitForConditionConfig[T],
        name: str | None = None,
    ) -> T:
        if check is None:
            raise ValidationError("`check` is required for wait_for_condition")
        if not config:
            raise ValidationError("`config` is required for wait_for_condition")
        with self._replay_aware():
            identifier = self._identifier(self._create_step_id(), OperationSubType.WAIT_FOR_CONDITION, name)
            return run_wait_for_condition(check, config, self.state, identifier, self._operation_logger)

    def create_callback(self, name: str | None = None, config: CallbackConfig | None = None) -> Callback[Any]:
        config = config or CallbackConfig()
        with self._replay_aware():
            operation_id = self._create_step_id()
            callback_id = create_callback_id(
                self.state, self._identifier(operation_id, OperationSubType.CALLBACK, name), config
            )
            return Callback(callback_id, operation_id, self.state, config.serdes)

    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], Any],
        name: str | None = None,
        config: WaitForCallbackConfig | None = None,
    ) -> Any:
        if not callable(submitter):
            raise ValidationError(f"wait_for_callback takes a submitter function, got {type(submitter).__name__}")
        step_name = self._resolve_step_name(name, submitter)

        def wait_in_child_context(context: DurableContext) -> Any:
            return wait_for_callback_handler(context, submitter, step_name, config)

        try:
            return self.run_in_child_context(
                wait_in_child_context, step_name, ChildConfig(sub_type=OperationSubType.WAIT_FOR_CALLBACK)
            )
        except ChildContextError as error:
            inner = error.__cause__
            if isinstance(inner, CallbackError):
                raise inner  # noqa: B904 - re-raised as the SDK does, with the child context's error as its context
            if isinstance(inner, StepError):
                raise CallbackSubmitterError(
                    inner.message or "Callback submitter failed", data=inner.data, stack_trace=inner.stack_trace
                ) from inner
            raise

    def invoke(
        self, function_name: str, payload: P, name: str | None = None, config: InvokeConfig[P, R] | None = None
    ) -> R:
        config = config or InvokeConfig()
        with self._replay_aware():
            identifier = self._identifier(self._create_step_id(), OperationSubType.CHAINED_INVOKE, name)
            return run_invoke(function_name, payload, self.state, identifier, config)

    def map(
        self,
        inputs: Sequence[U],
        func: Callable[[DurableContext, U, int, Sequence[U]], T],
        name: str | None = None,
        config: MapConfig[Any] | None = None,
    ) -> BatchResult[T]:
        if not isinstance(inputs, Iterable):
            raise ValidationError(f"map inputs must be iterable, got {type(inputs).__name__}")
        if not callable(func):
            raise ValidationError(f"map function must be callable, got {type(func).__name__}")
        map_name = self._resolve_step_name(name, func)
        if config is not None:
            config.completion_config._validate_for_total(len(inputs))
        with self._replay_aware():
            operation_id = self._create_step_id()
            identifier = self._identifier(operation_id, OperationSubType.MAP, map_name)
            map_context = self.create_child_context(operation_id)
            new = self._is_new(identifier)

            def map_in_child_context() -> BatchResult[T]:
                return map_handler(
                    inputs, func, config, self.state, map_context, self.state.lookup(operation_id),
                    OperationIdNamespace(operation_id), new,
                )

            summary = envelope_summary_generator("MapResult", config.summary_generator if config else None)
            child_config: ChildConfig[BatchResult[T]] = ChildConfig(
                serdes=config.serdes if config else None, sub_type=OperationSubType.MAP, summary_generator=summary
            )
            return child_handler(map_in_child_context, self.state, identifier, child_config)

    def parallel(
        self,
        functions: Sequence[Callable[[DurableContext], T] | ParallelBranch[T]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T]:
        if not isinstance(functions, Iterable):
            raise ValidationError(f"parallel takes an iterable of branches, got {type(functions).__name__}")
        functions = list(functions)
        for index, entry in enumerate(functions):
            if not callable(entry):
                raise ValidationError(f"parallel branch {index} is not callable: {type(entry).__name__}")
        if config is not None:
            config.completion_config._validate_for_total(len(functions))
        with self._replay_aware():
            operation_id = self._create_step_id()
            parallel_context = self.create_child_context(operation_id)
            identifier = self._identifier(operation_id, OperationSubType.PARALLEL, name)
            new = self._is_new(identifier)

            def parallel_in_child_context() -> BatchResult[T]:
                return parallel_handler(
                    functions, config, self.state, parallel_context, self.state.lookup(operation_id),
                    OperationIdNamespace(operation_id), new,
                )

            summary = envelope_summary_generator("ParallelResult", config.summary_generator if config else None)
            child_config: ChildConfig[BatchResult[T]] = ChildConfig(
                serdes=config.serdes if config else None, sub_type=OperationSubType.PARALLEL, summary_generator=summary
            )
            return child_handler(parallel_in_child_context, self.state, identifier, child_config)

    def run_in_child_context(
        self, func: Callable[[DurableContext], T], name: str | None = None, config: ChildConfig[Any] | None = None
    ) -> T:
        if not callable(func):
            raise ValidationError(f"run_in_child_context takes a function, got {type(func).__name__}")
        step_name = self._resolve_step_name(name, func)
        with self._replay_aware():
            operation_id = self._create_step_id()
            sub_type = config.sub_type if config and config.sub_type else OperationSubType.RUN_IN_CHILD_CONTEXT
            is_virtual = config.is_virtual if config else False

            def callable_with_child_context() -> T:
                return func(self.create_child_context(operation_id, is_virtual=is_virtual))

            return child_handler(
                callable_with_child_context, self.state, self._identifier(operation_id, sub_type, step_name), config
            )
