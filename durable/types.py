"""The SDK's protocols and the small contexts handed to user code inside operations.

`DurableContext` here is a Protocol: what code written against the durable
API may ask of a context.  Operations and helpers (`with_retry`) are typed
against it, never against the concrete `durable.context.DurableContext`.
"""

from __future__ import annotations

import dataclasses
import re
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from durable.config import (
    CallbackConfig,
    ChildConfig,
    Duration,
    MapConfig,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
)
from durable.config import SummaryGenerator as SummaryGenerator
from durable.core.batch import BatchResultProtocol as BatchResult

T = TypeVar("T")
U = TypeVar("U")
C_co = TypeVar("C_co", covariant=True)


class LoggerInterface(Protocol):
    def debug(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...
    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...
    def warning(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...
    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...
    def exception(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None: ...


@dataclasses.dataclass(frozen=True)
class OperationContext:
    logger: LoggerInterface


@dataclasses.dataclass(frozen=True)
class StepContext(OperationContext):
    """What a step function receives: its logger and which attempt this is (1-based)."""

    attempt: int


@dataclasses.dataclass(frozen=True)
class WaitForCallbackContext(OperationContext):
    """What a wait_for_callback submitter receives besides the callback id."""


@dataclasses.dataclass(frozen=True)
class WaitForConditionCheckContext(OperationContext):
    """What a wait_for_condition check receives besides the current state."""

    attempt: int


class Callback(Protocol, Generic[C_co]):
    callback_id: str

    @abstractmethod
    def result(self) -> C_co | None: ...


class DurableContext(Protocol):
    """What durable code may ask of its context (the operations every context offers)."""

    @abstractmethod
    def step(
        self, func: Callable[[StepContext], T], name: str | None = None, config: StepConfig | None = None
    ) -> T: ...

    @abstractmethod
    def run_in_child_context(
        self, func: Callable[[DurableContext], T], name: str | None = None, config: ChildConfig[Any] | None = None
    ) -> T: ...

    @abstractmethod
    def map(
        self,
        inputs: Sequence[U],
        func: Callable[[DurableContext, U, int, Sequence[U]], T],
        name: str | None = None,
        config: MapConfig[Any] | None = None,
    ) -> BatchResult[T]: ...

    @abstractmethod
    def parallel(
        self,
        functions: Sequence[Callable[[DurableContext], T] | ParallelBranch[T]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T]: ...

    @abstractmethod
    def wait(self, duration: Duration, name: str | None = None) -> None: ...

    @abstractmethod
    def create_callback(self, name: str | None = None, config: CallbackConfig | None = None) -> Callback[Any]: ...


class LambdaContext(Protocol):
    """The Lambda runtime's context object, as the SDK types it (our engines pass a stand-in)."""

    aws_request_id: str
    log_group_name: str | None = None
    log_stream_name: str | None = None
    function_name: str | None = None
    memory_limit_in_mb: str | None = None
    function_version: str | None = None
    invoked_function_arn: str | None = None
    tenant_id: str | None = None
    client_context: Any | None = None
    identity: Any | None = None

    def get_remaining_time_in_millis(self) -> int: ...

    def log(self, msg: Any) -> None: ...


_DURABLE_EXECUTION_ARN = re.compile(
    r"^arn:[^:]*:lambda:[^:]*:[^:]*:function:([^:/]+):[^:/]+/durable-execution/([^/]+)/([^/]+)$"
)


@dataclasses.dataclass(frozen=True)
class DurableExecutionArn:
    """The parts of a Lambda durable execution ARN (our execution ids are not ARNs: `from_arn` gives None)."""

    function_name: str
    execution_name: str
    invocation_id: str

    @classmethod
    def from_arn(cls, arn: str) -> DurableExecutionArn | None:
        match = _DURABLE_EXECUTION_ARN.match(arn)
        return cls(match.group(1), match.group(2), match.group(3)) if match else None
