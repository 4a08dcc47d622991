"""DurableContext: the front users call; each operation lives in `durable.operations`.

A context knows its invocation, its parent operation id (None at the top)
and a counter: the n-th operation of a context gets id `n` at the top level
and `<parent>-n` below, so the same code path always asks for the same ids.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from durable.concurrency.batch import run_map, run_parallel
from durable.concurrency.models import BatchResult
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
from durable.invocation import Invocation
from durable.logger import DurableLogger
from durable.operations.callback import Callback, run_create_callback
from durable.operations.child import run_child
from durable.operations.invoke import run_invoke
from durable.operations.step import run_step
from durable.operations.wait import run_wait
from durable.operations.wait_for_callback import Submitter, run_wait_for_callback
from durable.operations.wait_for_condition import run_wait_for_condition
from durable.types import StepContext, WaitForCallbackContext, WaitForConditionCheckContext
from durable.waits import WaitForConditionConfig

T = TypeVar("T")
U = TypeVar("U")

__all__ = [
    "Callback",
    "DurableContext",
    "StepContext",
    "WaitForCallbackContext",
    "durable_parallel_branch",
    "durable_step",
    "durable_wait_for_callback",
    "durable_with_child_context",
]


class DurableContext:
    """What a durable handler receives as its second argument."""

    def __init__(
        self,
        invocation: Invocation,
        parent_id: str | None = None,
        log_during_replay: bool = False,
    ) -> None:
        self.invocation = invocation
        self.parent_id = parent_id
        self.recorded_parent_id = parent_id
        self._counter = itertools.count(1)
        self._log_during_replay = log_during_replay
        self.logger = self._make_logger()

    def _make_logger(self) -> DurableLogger:
        extra = {"parent_id": self.parent_id} if self.parent_id else {}
        return DurableLogger(
            self.invocation.execution_arn, self.invocation.is_replaying, self._log_during_replay, **extra
        )

    @property
    def execution_arn(self) -> str:
        return self.invocation.execution_arn

    @property
    def tenant_id(self) -> str | None:
        """The tenant this execution runs for, when a `context.invoke` named one."""
        return self.invocation.tenant_id

    def next_operation_id(self) -> str:
        n = next(self._counter)
        return f"{self.parent_id}-{n}" if self.parent_id else str(n)

    def child(self, operation_id: str) -> DurableContext:
        return DurableContext(self.invocation, operation_id, self._log_during_replay)

    def virtual(self, operation_id: str) -> DurableContext:
        """A FLAT branch's context: its operations take ids under `operation_id` but hang off this context."""
        virtual = DurableContext(self.invocation, operation_id, self._log_during_replay)
        virtual.recorded_parent_id = self.parent_id
        return virtual

    def configure_logger(self, log_during_replay: bool = False) -> None:
        """Emit this context's (and its children's) log lines during replay too, or not (the default)."""
        self._log_during_replay = log_during_replay
        self.logger = self._make_logger()

    def step(
        self, func: Callable[[StepContext], T], name: str | None = None, config: StepConfig | None = None
    ) -> T:
        return run_step(self, func, name, config)

    def wait(self, duration: Duration, name: str | None = None) -> None:
        run_wait(self, duration, name)

    def wait_for_condition(
        self,
        check: Callable[[T, WaitForConditionCheckContext], T],
        config: WaitForConditionConfig[T],
        name: str | None = None,
    ) -> T:
        return run_wait_for_condition(self, check, config, name)

    def create_callback(self, name: str | None = None, config: CallbackConfig | None = None) -> Callback[Any]:
        return run_create_callback(self, name, config)

    def wait_for_callback(
        self, submitter: Submitter, name: str | None = None, config: WaitForCallbackConfig | None = None
    ) -> Any:
        return run_wait_for_callback(self, submitter, name, config)

    def invoke(
        self, function_name: str, payload: Any = None, name: str | None = None, config: InvokeConfig | None = None
    ) -> Any:
        return run_invoke(self, function_name, payload, name, config)

    def map(
        self,
        inputs: Sequence[U],
        func: Callable[[DurableContext, U, int, Sequence[U]], T],
        name: str | None = None,
        config: MapConfig[Any] | None = None,
    ) -> BatchResult[T]:
        return run_map(self, inputs, func, name, config)

    def parallel(
        self,
        functions: Sequence[Callable[[DurableContext], T] | ParallelBranch[T]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T]:
        return run_parallel(self, functions, name, config)

    def run_in_child_context(
        self,
        func: Callable[[DurableContext], T],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> T:
        return run_child(self, func, name, config)


def durable_step(func: Callable[..., T]) -> Callable[..., Callable[[StepContext], T]]:
    """Turn `f(step_context, *args)` into `f(*args)` returning a step named after `f`."""

    @functools.wraps(func)
    def bind(*args: Any, **kwargs: Any) -> Callable[[StepContext], T]:
        def step(step_context: StepContext) -> T:
            return func(step_context, *args, **kwargs)

        step._durable_step_name = func.__name__  # type: ignore[attr-defined]
        return step

    return bind


def durable_with_child_context(func: Callable[..., T]) -> Callable[..., Callable[[DurableContext], T]]:
    """Turn `f(child_context, *args)` into `f(*args)` returning a child function named after `f`."""

    @functools.wraps(func)
    def bind(*args: Any, **kwargs: Any) -> Callable[[DurableContext], T]:
        def child(child_context: DurableContext) -> T:
            return func(child_context, *args, **kwargs)

        child._durable_child_name = func.__name__  # type: ignore[attr-defined]
        return child

    return bind


def durable_parallel_branch(func: Callable[..., T]) -> Callable[..., Callable[[DurableContext], T]]:
    """Turn `f(context, *args)` into `f(*args)` returning a parallel branch named after `f`."""

    @functools.wraps(func)
    def bind(*args: Any, **kwargs: Any) -> Callable[[DurableContext], T]:
        def branch(context: DurableContext) -> T:
            return func(context, *args, **kwargs)

        branch._durable_branch_name = func.__name__  # type: ignore[attr-defined]
        return branch

    return bind


def durable_wait_for_callback(func: Callable[..., None]) -> Callable[..., Submitter]:
    """Turn `f(callback_id, wait_context, *args)` into `f(*args)` returning a submitter named after `f`."""

    @functools.wraps(func)
    def bind(*args: Any, **kwargs: Any) -> Submitter:
        def submitter(callback_id: str, wait_context: WaitForCallbackContext) -> None:
            func(callback_id, wait_context, *args, **kwargs)

        submitter._durable_wait_for_callback_name = func.__name__  # type: ignore[attr-defined]
        return submitter

    return bind
