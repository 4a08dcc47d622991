"""@durable_execution: the handler entry point, and what one invocation of it does.

An invocation runs the handler from the top with a root DurableContext, the
event being the execution's input (`{}` when there is none, as on Lambda).
Operations already checkpointed return their recorded outcome; new ones run.
It ends SUCCEEDED (the return value as `json.dumps` writes it), FAILED (the
escaping error, recorded as `ErrorObject.from_exception` does) or PENDING (an
operation suspended: everything left waits on a timer or an outside event).
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
from durable.exceptions import CheckpointError, CheckpointRejectedError, SuspendExecution
from durable.invocation import Invocation
from durable.lambda_service import DurableExecutionInvocationOutput, DurableServiceClient, Operation
from durable.plugin import DurableInstrumentationPlugin
from durable.plugin_session import run_invocation
from durable.stores.base import ExecutionRecord

__all__ = [
    "LAMBDA_RESPONSE_SIZE_LIMIT",
    "DurableExecutionInvocationInput",
    "DurableExecutionInvocationInputWithClient",
    "DurableHandler",
    "FunctionContext",
    "InitialExecutionState",
    "InvocationStatus",
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

    def __call__(self, event: Any, context: DurableContext) -> R:
        return self.func(event, context)

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
        except Exception as error:
            return InvocationOutcome(
                OutcomeStatus.FAILED, error=ErrorObject.from_exception(error), started=started
            )
        return _returned(value, started)


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


def handle_checkpoint_error(error: CheckpointError) -> DurableExecutionInvocationOutput:
    """A retryable checkpoint failure ends the invocation (to be run again); any other fails the execution."""
    if error.is_retryable():
        raise error from None
    return DurableExecutionInvocationOutput(status=InvocationStatus.FAILED, error=ErrorObject.from_exception(error))
