"""@durable_execution: the handler entry point, and what one invocation of it does.

An invocation runs the handler from the top with a root DurableContext, the
event being the execution's input (`{}` when there is none, as on Lambda).
Operations already checkpointed return their recorded outcome; new ones run.
It ends SUCCEEDED (the return value as `json.dumps` writes it), FAILED (the
escaping error, recorded as `ErrorObject.from_exception` does), PENDING (an
operation suspended: everything left waits on a timer or an outside event) or
INTERRUPTED (a retryable InvocationError escaped: the engine runs it again, as
Lambda retries the invocation the SDK re-raises it from).
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import attrs

from actors.messages import InvocationOutcome, OutcomeStatus
from durable.context import DurableContext, ReplayStatus
from durable.core.records import ErrorObject, InvocationStatus
from durable.exceptions import (
    BackgroundThreadError,
    BotoClientError,
    CheckpointError,
    CheckpointRejectedError,
    ExecutionError,
    InvocationError,
    SuspendExecution,
)
from durable.invocation import Invocation
from durable.lambda_service import (
    DurableExecutionInvocationOutput,
    DurableServiceClient,
    LambdaClient,
    Operation,
    OperationUpdate,
)
from durable.plugin import DurableInstrumentationPlugin
from durable.plugin_session import run_invocation
from durable.stores.base import ExecutionRecord

__all__ = [
    "LAMBDA_RESPONSE_SIZE_LIMIT",
    "BackgroundThreadError",
    "BotoClientError",
    "CheckpointError",
    "DurableContext",
    "DurableExecutionInvocationInput",
    "DurableExecutionInvocationInputWithClient",
    "DurableExecutionInvocationOutput",
    "DurableHandler",
    "DurableInstrumentationPlugin",
    "DurableServiceClient",
    "ErrorObject",
    "ExecutionError",
    "FunctionContext",
    "InitialExecutionState",
    "InvocationError",
    "InvocationStatus",
    "LambdaClient",
    "Operation",
    "OperationUpdate",
    "ReplayStatus",
    "SuspendExecution",
    "durable_execution",
    "handle_checkpoint_error",
]

R = TypeVar("R")


class DurableHandler(Generic[R]):
    """A user function `handler(event, context)` made durable, with the plugins that instrument it."""

    def __init__(
        self, func: Callable[[Any, DurableContext], R], plugins: Sequence[DurableInstrumentationPlugin] = ()
    ) -> None:
        self.func = func
        self.name = getattr(func, "__name__", "handler")
        self.plugins: tuple[DurableInstrumentationPlugin, ...] = tuple(plugins)
        functools.update_wrapper(self, func)

    def __call__(self, event: Any, context: Any) -> Any:
        """Run the function on a DurableContext (a handler calling another's code, in its own operations),
        or, as the Lambda entry point a decorator stacked on it calls, run the invocation this runtime
        handed that decorator (`EntryPointInvocation`) and return the SDK's output mapping.

        Called as a Lambda entry point with anything else it refuses, as the SDK refuses a payload that
        is not a durable invocation: here the engine or the test runner invokes handlers, no Lambda service.
        """
        if isinstance(context, DurableContext):
            return self.func(event, context)
        if isinstance(event, EntryPointInvocation):
            return event.run(self, context)
        if isinstance(event, DurableExecutionInvocationInput) or (
            isinstance(event, dict) and "DurableExecutionArn" in event
        ):
            raise ExecutionError(
                f"{self.name} was called with a Lambda durable invocation; this runtime invokes handlers itself: "
                "run it with durable.engine.Engine or durable.testing.DurableFunctionTestRunner"
            )
        raise ExecutionError(
            "Unexpected payload provided to start the durable execution. "
            "Check your resource configurations to confirm the durability is set."
        )

    def invoke(self, invocation: Invocation, input_payload: str | None, started: float) -> InvocationOutcome:
        """Run one invocation and say how it ended; never raises for user errors."""
        if self.plugins:
            return run_invocation(self.plugins, invocation, lambda: self._invoke(invocation, input_payload, started))
        return self._invoke(invocation, input_payload, started)

    def _invoke(self, invocation: Invocation, input_payload: str | None, started: float) -> InvocationOutcome:
        replay = ReplayStatus.REPLAY if invocation.has_prior_operations() else ReplayStatus.NEW
        lambda_context = invocation.lambda_context or LocalLambdaContext(invocation)
        context = DurableContext.from_lambda_context(invocation, lambda_context, replay)
        try:
            value = self.func(handler_event(input_payload), context)
        except SuspendExecution:
            return InvocationOutcome(OutcomeStatus.PENDING, started=started)
        except CheckpointRejectedError:
            raise
        except InvocationError as error:
            # retryable: the SDK re-raises it so that Lambda runs the invocation again; here the engine does
            status = OutcomeStatus.INTERRUPTED if error.is_retryable() else OutcomeStatus.FAILED
            return InvocationOutcome(status, error=ErrorObject.from_exception(error), started=started)
        except Exception as error:
            return InvocationOutcome(
                OutcomeStatus.FAILED, error=ErrorObject.from_exception(error), started=started
            )
        return _returned(value, started)


class DurableEntryPoint(DurableHandler[Any]):
    """A Lambda entry point stacked on a durable handler: a decorator (logging, tracing, metrics) applied
    above `@durable_execution` with `functools.wraps`.

    As Lambda calls the outermost function, each invocation calls `entry(event, lambda_context)` with an
    `EntryPointInvocation` for the event; the decorator passes it down to the durable handler, which runs
    the invocation and returns the SDK's output mapping back up.
    """

    def __init__(self, entry: Callable[[Any, Any], Any], core: DurableHandler[Any]) -> None:
        super().__init__(core.func, core.plugins)
        self.entry = entry
        self.core = core

    def __call__(self, event: Any, context: Any) -> Any:
        return self.entry(event, context)

    def invoke(self, invocation: Invocation, input_payload: str | None, started: float) -> InvocationOutcome:
        invocation.lambda_context = invocation.lambda_context or LocalLambdaContext(invocation)
        event = EntryPointInvocation(
            durable_execution_arn=invocation.execution_arn,
            checkpoint_token=(invocation.meta.request_id if invocation.meta is not None else None) or "",
            initial_execution_state=InitialExecutionState([], ""),
            service_client=_NoServiceClient(),
            invocation=invocation,
            input_payload=input_payload,
            started=started,
        )
        try:
            self.entry(event, invocation.lambda_context)
        except CheckpointRejectedError:
            raise
        except Exception as error:
            if not event.outcome:  # the decorator failed before the handler ran: Lambda would retry the invocation
                return InvocationOutcome(OutcomeStatus.INTERRUPTED, error=ErrorObject.from_exception(error),
                                         started=started)
        if not event.outcome:
            why = f"the entry point of {self.name} returned without calling the durable handler"
            return InvocationOutcome(OutcomeStatus.FAILED, error=ErrorObject(why, "ExecutionError"), started=started)
        return event.outcome[0]


def as_durable_handler(target: Any) -> DurableHandler[Any] | None:
    """`target` as a DurableHandler: itself, a DurableEntryPoint for a decorator stacked on one (found through
    `__wrapped__`, which `functools.wraps` sets), or None when it is neither."""
    if isinstance(target, DurableHandler):
        return target
    inner, seen = getattr(target, "__wrapped__", None), 0
    while inner is not None and seen < 32:
        if isinstance(inner, DurableHandler):
            return DurableEntryPoint(target, inner)
        inner, seen = getattr(inner, "__wrapped__", None), seen + 1
    return None


class LocalLambdaContext:
    """What the handler's `context.lambda_context` is here: the Lambda context's fields, for this invocation."""

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation
        self.aws_request_id = f"{invocation.execution_arn}/{invocation.clock.now():.6f}"
        self.log_group_name: str | None = None
        self.log_stream_name: str | None = None
        self.function_name: str | None = None
        self.memory_limit_in_mb: str | None = None
        self.function_version: str | None = None
        self.invoked_function_arn: str | None = None
        self.tenant_id = invocation.tenant_id
        self.client_context: Any = None
        self.identity: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return self._invocation.remaining_millis()

    def log(self, msg: Any) -> None:
        logging.getLogger().info(msg)


class _NoServiceClient:
    """The service client an entry point's event carries: there is no Lambda service to call here."""

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        raise ExecutionError("there is no Lambda durable service here: the engine checkpoints the handler's operations")

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        raise ExecutionError("there is no Lambda durable service here: the engine holds the execution's state")


def handler_event(payload: str | None) -> Any:
    """The handler's event: the input as JSON, `{}` when there is none (as the Lambda runtime does)."""
    if payload is None or not payload.strip():
        return {}
    return decode_input(payload)


@attrs.frozen(slots=True)
class FunctionContext:
    """What a plain (not durable) function invoked with `context.invoke` gets as its context."""

    function_name: str
    execution_id: str
    tenant_id: str | None = None


def run_plain_function(func: Callable[[Any, Any], Any], record: ExecutionRecord, started: float) -> InvocationOutcome:
    """Run a plain `handler(event, context)` once: its return value or its error is the outcome."""
    context = FunctionContext(record.function_name, record.execution_id, record.tenant_id)
    try:
        value = func(decode_input(record.input), context)
    except Exception as error:
        return InvocationOutcome(
            OutcomeStatus.FAILED, error=ErrorObject.from_exception(error), started=started
        )
    return _returned(value, started)


def _returned(value: Any, started: float) -> InvocationOutcome:
    """The handler's value as the result: `json.dumps` with its default spacing; an error if it is not JSON."""
    try:
        payload = json.dumps(value)
    except (TypeError, ValueError) as error:
        return InvocationOutcome(
            OutcomeStatus.FAILED, error=ErrorObject.from_exception(error), started=started
        )
    return InvocationOutcome(OutcomeStatus.SUCCEEDED, result=payload, started=started)


def decode_input(payload: str | None) -> Any:
    """An execution's input: JSON, or the text itself when a custom invoke serializer wrote something else."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


PLUGINS_WARNING = "The 'plugins' parameter is provisional and may be altered or removed."


@overload
def durable_execution(
    func: Callable[[Any, DurableContext], R],
    *,
    boto3_client: Any = None,
    plugins: Sequence[DurableInstrumentationPlugin] | None = None,
) -> DurableHandler[R]: ...


@overload
def durable_execution(
    func: None = None,
    *,
    boto3_client: Any = None,
    plugins: Sequence[DurableInstrumentationPlugin] | None = None,
) -> Callable[[Callable[[Any, DurableContext], R]], DurableHandler[R]]: ...


def durable_execution(
    func: Callable[[Any, DurableContext], R] | None = None,
    *,
    boto3_client: Any = None,
    plugins: Sequence[DurableInstrumentationPlugin] | None = None,
) -> DurableHandler[R] | Callable[[Callable[[Any, DurableContext], R]], DurableHandler[R]]:
    """Mark `handler(event, context)` as a durable execution's entry point.

    Bare (`@durable_execution`) or with arguments (`@durable_execution(plugins=[...])`).
    `plugins` instrument every invocation (`durable.plugin`); giving any warns
    FutureWarning, as in the SDK, whose plugin interface is provisional.
    `boto3_client` is accepted so code written for AWS runs unchanged; with no
    Lambda service to talk to, it is not used.
    """
    if func is None:
        return functools.partial(durable_execution, boto3_client=boto3_client, plugins=plugins)
    if plugins:
        warnings.warn(PLUGINS_WARNING, FutureWarning, stacklevel=2)
    if isinstance(func, DurableHandler):
        return func if not plugins else DurableHandler(func.func, (*func.plugins, *plugins))
    return DurableHandler(func, plugins or ())


LAMBDA_RESPONSE_SIZE_LIMIT = 6 * 1024 * 1024 - 50


@dataclass(frozen=True)
class InitialExecutionState:
    """The operations a Lambda invocation input carries (the first page of the execution's state)."""

    operations: list[Operation]
    next_marker: str

    @staticmethod
    def from_dict(input_dict: MutableMapping[str, Any]) -> InitialExecutionState:
        return InitialExecutionState(
            [Operation.from_dict(op) for op in input_dict.get("Operations") or []], input_dict.get("NextMarker", "")
        )

    @staticmethod
    def from_json_dict(input_dict: MutableMapping[str, Any]) -> InitialExecutionState:
        return InitialExecutionState(
            [Operation.from_json_dict(op) for op in input_dict.get("Operations") or []],
            input_dict.get("NextMarker", ""),
        )

    def to_dict(self) -> MutableMapping[str, Any]:
        return {"Operations": [op.to_dict() for op in self.operations], "NextMarker": self.next_marker}

    def to_json_dict(self) -> MutableMapping[str, Any]:
        return {"Operations": [op.to_json_dict() for op in self.operations], "NextMarker": self.next_marker}


@dataclass(frozen=True)
class DurableExecutionInvocationInput:
    """The event Lambda hands a durable function; here only parsed and produced, never received."""

    durable_execution_arn: str
    checkpoint_token: str
    initial_execution_state: InitialExecutionState
    updated_operation_ids: list[str] = field(default_factory=list, kw_only=True)

    @staticmethod
    def from_dict(input_dict: MutableMapping[str, Any]) -> DurableExecutionInvocationInput:
        return DurableExecutionInvocationInput(
            durable_execution_arn=input_dict["DurableExecutionArn"],
            checkpoint_token=input_dict["CheckpointToken"],
            initial_execution_state=InitialExecutionState.from_dict(input_dict.get("InitialExecutionState", {})),
            updated_operation_ids=list(input_dict.get("UpdatedOperationIds", [])),
        )

    @staticmethod
    def from_json_dict(input_dict: MutableMapping[str, Any]) -> DurableExecutionInvocationInput:
        return DurableExecutionInvocationInput(
            durable_execution_arn=input_dict["DurableExecutionArn"],
            checkpoint_token=input_dict["CheckpointToken"],
            initial_execution_state=InitialExecutionState.from_json_dict(input_dict.get("InitialExecutionState", {})),
            updated_operation_ids=list(input_dict.get("UpdatedOperationIds", [])),
        )

    def to_dict(self) -> MutableMapping[str, Any]:
        return self._as_dict(self.initial_execution_state.to_dict())

    def to_json_dict(self) -> MutableMapping[str, Any]:
        return self._as_dict(self.initial_execution_state.to_json_dict())

    def _as_dict(self, state: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return {
            "DurableExecutionArn": self.durable_execution_arn,
            "CheckpointToken": self.checkpoint_token,
            "InitialExecutionState": state,
            "UpdatedOperationIds": self.updated_operation_ids,
        }


@dataclass(frozen=True)
class DurableExecutionInvocationInputWithClient(DurableExecutionInvocationInput):
    """An invocation input with the service client to checkpoint through (the SDK's hook for test doubles)."""

    service_client: DurableServiceClient

    @staticmethod
    def from_durable_execution_invocation_input(
        invocation_input: DurableExecutionInvocationInput, service_client: DurableServiceClient
    ) -> DurableExecutionInvocationInputWithClient:
        return DurableExecutionInvocationInputWithClient(
            durable_execution_arn=invocation_input.durable_execution_arn,
            checkpoint_token=invocation_input.checkpoint_token,
            initial_execution_state=invocation_input.initial_execution_state,
            updated_operation_ids=invocation_input.updated_operation_ids,
            service_client=service_client,
        )


@dataclass(frozen=True)
class EntryPointInvocation(DurableExecutionInvocationInputWithClient):
    """The event a decorator stacked on a durable handler is called with (`DurableEntryPoint`): a durable
    invocation, as the SDK hands its entry point one, carrying this runtime's invocation.  Its initial
    state is empty: the handler replays from the engine's state, not from the event."""

    invocation: Invocation = field(kw_only=True, repr=False, compare=False)
    input_payload: str | None = field(kw_only=True, repr=False, compare=False)
    started: float = field(kw_only=True, repr=False, compare=False)
    #: the invocation's outcome, once the durable handler ran it
    outcome: list[InvocationOutcome] = field(default_factory=list, kw_only=True, repr=False, compare=False)

    def run(self, handler: DurableHandler[Any], lambda_context: Any) -> MutableMapping[str, Any]:
        if self.outcome:
            raise ExecutionError("this durable invocation has already run")
        if lambda_context is not None:
            self.invocation.lambda_context = lambda_context
        outcome = handler.invoke(self.invocation, self.input_payload, self.started)
        self.outcome.append(outcome)
        if outcome.status is OutcomeStatus.INTERRUPTED:  # the SDK re-raises it, for Lambda to retry
            raise InvocationError((outcome.error.message if outcome.error else None) or "to be run again")
        status = _OUTPUT_STATUS.get(outcome.status, InvocationStatus.PENDING)
        return DurableExecutionInvocationOutput(status=status, result=outcome.result, error=outcome.error).to_dict()


#: the SDK's output status of an invocation that ended (any other is PENDING)
_OUTPUT_STATUS = {OutcomeStatus.SUCCEEDED: InvocationStatus.SUCCEEDED, OutcomeStatus.FAILED: InvocationStatus.FAILED}


def handle_checkpoint_error(error: CheckpointError) -> DurableExecutionInvocationOutput:
    """A retryable checkpoint failure ends the invocation (to be run again); any other fails the execution."""
    if error.is_retryable():
        raise error from None
    return DurableExecutionInvocationOutput(status=InvocationStatus.FAILED, error=ErrorObject.from_exception(error))
