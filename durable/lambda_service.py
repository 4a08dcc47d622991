"""The AWS SDK's `lambda_service` module: the wire model of checkpoints and execution state.

Programs and tests written against the SDK build and read these values
(`Operation`, `OperationUpdate`, the details and options records), so their
constructors, field order and dict shapes match the SDK's exactly.  The
enums and `ErrorObject` are the ones in `durable.core.records`, re-exported so
there is a single definition of each.

There is no AWS Lambda service behind this runtime: checkpoints go through
`durable.engine.Engine` (or `durable.testing`).  `LambdaClient` keeps its
name and signatures so code mentioning it imports, but it refuses to create
a service client of its own.
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeAlias, TypeVar

from durable.core.records import (
    CallbackTimeoutType,
    ErrorObject,
    InvocationStatus,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import CheckpointError, GetExecutionStateError
from durable.exceptions import DurableOperationError as DurableOperationError
from durable.identifier import OperationIdentifier

ReplayChildren: TypeAlias = bool
OperationPayload: TypeAlias = str
TimeoutSeconds: TypeAlias = int

logger = logging.getLogger(__name__)

_NO_LAMBDA_SERVICE = (
    "This runtime has no AWS Lambda service to call: durable executions checkpoint through "
    "durable.engine.Engine (or durable.testing), not through LambdaClient."
)


def _error_from(raw: MutableMapping[str, Any] | None) -> ErrorObject | None:
    """An error read from the wire; an absent or empty error means none."""
    return ErrorObject.from_dict(raw) if raw else None


_T = TypeVar("_T")


def _parse_if_set(data: MutableMapping[str, Any], key: str, parse: Callable[[Any], _T]) -> _T | None:
    """A nested record, read only when present and non-empty."""
    raw = data.get(key)
    return parse(raw) if raw else None


def _execution_result_id() -> str:
    """The SDK names the EXECUTION result update after the current time in milliseconds."""
    now = datetime.datetime.now(tz=datetime.UTC)
    return f"execution-result-{int(now.timestamp() * 1000)}"


# ---------------------------------------------------------------------------
# Invocation result
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DurableExecutionInvocationOutput:
    """What one invocation of a durable handler returns to the service.

    `result` may be "" when the result was too large and was checkpointed
    instead of being returned.
    """

    status: InvocationStatus
    result: str | None = None
    error: ErrorObject | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> DurableExecutionInvocationOutput:
        status = InvocationStatus(data.get("Status"))
        return cls(status=status, result=data.get("Result"), error=_error_from(data.get("Error")))

    def to_dict(self) -> MutableMapping[str, Any]:
        out: MutableMapping[str, Any] = {"Status": self.status.value}
        if self.result is not None:
            out["Result"] = self.result
        if self.error:
            out["Error"] = self.error.to_dict()
        return out

    @classmethod
    def create_succeeded(cls, result: str) -> DurableExecutionInvocationOutput:
        return cls(status=InvocationStatus.SUCCEEDED, result=result)

    @classmethod
    def create_retry(cls, error: ErrorObject) -> DurableExecutionInvocationOutput:
        """A failure the service should answer with another invocation."""
        return cls(status=InvocationStatus.RETRY, error=error)


# ---------------------------------------------------------------------------
# Per-type details of a checkpointed operation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionDetails:
    input_payload: str | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> ExecutionDetails:
        return cls(input_payload=data.get("InputPayload"))


@dataclass(frozen=True)
class ContextDetails:
    replay_children: ReplayChildren = False
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> ContextDetails:
        return cls(
            replay_children=data.get("ReplayChildren", False),
            result=data.get("Result"),
            error=_error_from(data.get("Error")),
        )


@dataclass(frozen=True)
class StepDetails:
    attempt: int = 0
    next_attempt_timestamp: datetime.datetime | None = None
    result: OperationPayload | None = None
    error: ErrorObject | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> StepDetails:
        return cls(
            attempt=data.get("Attempt", 0),
            next_attempt_timestamp=data.get("NextAttemptTimestamp"),
            result=data.get("Result"),
            error=_error_from(data.get("Error")),
        )


@dataclass(frozen=True)
class WaitDetails:
    scheduled_end_timestamp: datetime.datetime | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> WaitDetails:
        return cls(scheduled_end_timestamp=data.get("ScheduledEndTimestamp"))


@dataclass(frozen=True)
class CallbackDetails:
    callback_id: str
    result: str | None = None
    error: ErrorObject | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> CallbackDetails:
        return cls(callback_id=data["CallbackId"], result=data.get("Result"), error=_error_from(data.get("Error")))


@dataclass(frozen=True)
class ChainedInvokeDetails:
    result: str | None = None
    error: ErrorObject | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> ChainedInvokeDetails:
        return cls(result=data.get("Result"), error=_error_from(data.get("Error")))


# ---------------------------------------------------------------------------
# Per-type options of a checkpoint update
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOptions:
    next_attempt_delay_seconds: int = 0

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> StepOptions:
        return cls(next_attempt_delay_seconds=data.get("NextAttemptDelaySeconds", 0))

    def to_dict(self) -> MutableMapping[str, Any]:
        return {"NextAttemptDelaySeconds": self.next_attempt_delay_seconds}


@dataclass(frozen=True)
class WaitOptions:
    """How long a wait suspends; the service treats a missing value as one second."""

    wait_seconds: int = 1

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> WaitOptions:
        return cls(wait_seconds=data.get("WaitSeconds", 1))

    def to_dict(self) -> MutableMapping[str, Any]:
        return {"WaitSeconds": self.wait_seconds}


@dataclass(frozen=True)
class CallbackOptions:
    """A callback's overall and heartbeat timeouts; 0 (also the default when absent) means no timeout."""

    timeout_seconds: TimeoutSeconds = 0
    heartbeat_timeout_seconds: int = 0

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> CallbackOptions:
        return cls(
            timeout_seconds=data.get("TimeoutSeconds", 0),
            heartbeat_timeout_seconds=data.get("HeartbeatTimeoutSeconds", 0),
        )

    def to_dict(self) -> MutableMapping[str, Any]:
        return {"TimeoutSeconds": self.timeout_seconds, "HeartbeatTimeoutSeconds": self.heartbeat_timeout_seconds}


@dataclass(frozen=True)
class ChainedInvokeOptions:
    """Which function a chained invoke calls (and, optionally, for which tenant)."""

    function_name: str
    tenant_id: str | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> ChainedInvokeOptions:
        return cls(function_name=data["FunctionName"], tenant_id=data.get("TenantId"))

    def to_dict(self) -> MutableMapping[str, Any]:
        out: MutableMapping[str, Any] = {"FunctionName": self.function_name}
        if self.tenant_id is not None:
            out["TenantId"] = self.tenant_id
        return out


@dataclass(frozen=True)
class ContextOptions:
    replay_children: ReplayChildren = False

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> ContextOptions:
        return cls(replay_children=data.get("ReplayChildren", False))

    def to_dict(self) -> MutableMapping[str, Any]:
        return {"ReplayChildren": self.replay_children}


# ---------------------------------------------------------------------------
# Checkpoint updates
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationUpdate:
    """One checkpoint request; the `create_*` class methods build the shapes the SDK sends."""

    operation_id: str
    operation_type: OperationType
    action: OperationAction
    parent_id: str | None = None
    name: str | None = None
    sub_type: OperationSubType | None = None
    payload: str | None = None
    error: ErrorObject | None = None
    context_options: ContextOptions | None = None
    step_options: StepOptions | None = None
    wait_options: WaitOptions | None = None
    callback_options: CallbackOptions | None = None
    chained_invoke_options: ChainedInvokeOptions | None = None

    def to_dict(self) -> MutableMapping[str, Any]:
        out: MutableMapping[str, Any] = {
            "Id": self.operation_id,
            "Type": self.operation_type.value,
            "Action": self.action.value,
        }
        # Empty ids and names are left off the wire, as the SDK does; a payload is kept even when "".
        if self.parent_id:
            out["ParentId"] = self.parent_id
        if self.name:
            out["Name"] = self.name
        if self.sub_type:
            out["SubType"] = self.sub_type.value
        if self.payload is not None:
            out["Payload"] = self.payload
        if self.error:
            out["Error"] = self.error.to_dict()
        options: tuple[tuple[str, ContextOptions | StepOptions | WaitOptions | CallbackOptions
                             | ChainedInvokeOptions | None], ...] = (
            ("ContextOptions", self.context_options),
            ("StepOptions", self.step_options),
            ("WaitOptions", self.wait_options),
            ("CallbackOptions", self.callback_options),
            ("ChainedInvokeOptions", self.chained_invoke_options),
        )
        for key, value in options:
            if value:
                out[key] = value.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> OperationUpdate:
        # Parsed in the SDK's order, so malformed input fails with the same exception.
        error = _error_from(data.get("Error"))
        context_options = _parse_if_set(data, "ContextOptions", ContextOptions.from_dict)
        step_options = _parse_if_set(data, "StepOptions", StepOptions.from_dict)
        wait_options = _parse_if_set(data, "WaitOptions", WaitOptions.from_dict)
        callback_options = _parse_if_set(data, "CallbackOptions", CallbackOptions.from_dict)
        chained_invoke_options = _parse_if_set(data, "ChainedInvokeOptions", ChainedInvokeOptions.from_dict)
        return cls(
            operation_id=data["Id"],
            operation_type=OperationType(data["Type"]),
            action=OperationAction(data["Action"]),
            parent_id=data.get("ParentId"),
            name=data.get("Name"),
            sub_type=OperationSubType(data["SubType"]) if data.get("SubType") else None,
            payload=data.get("Payload"),
            error=error,
            context_options=context_options,
            step_options=step_options,
            wait_options=wait_options,
            callback_options=callback_options,
            chained_invoke_options=chained_invoke_options,
        )

    @classmethod
    def _for(
        cls,
        identifier: OperationIdentifier,
        operation_type: OperationType,
        sub_type: OperationSubType,
        action: OperationAction,
        **rest: Any,
    ) -> OperationUpdate:
        """An update about `identifier`'s operation (its id, parent and name)."""
        return cls(
            operation_id=identifier.operation_id,
            operation_type=operation_type,
            action=action,
            parent_id=identifier.parent_id,
            name=identifier.name,
            sub_type=sub_type,
            **rest,
        )

    @classmethod
    def create_callback(cls, identifier: OperationIdentifier, callback_options: CallbackOptions) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.CALLBACK, OperationSubType.CALLBACK, OperationAction.START,
            callback_options=callback_options,
        )

    @classmethod
    def create_context_start(cls, identifier: OperationIdentifier, sub_type: OperationSubType) -> OperationUpdate:
        return cls._for(identifier, OperationType.CONTEXT, sub_type, OperationAction.START)

    @classmethod
    def create_context_succeed(
        cls,
        identifier: OperationIdentifier,
        payload: str,
        sub_type: OperationSubType,
        context_options: ContextOptions | None = None,
    ) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.CONTEXT, sub_type, OperationAction.SUCCEED,
            payload=payload, context_options=context_options,
        )

    @classmethod
    def create_context_fail(
        cls, identifier: OperationIdentifier, error: ErrorObject, sub_type: OperationSubType
    ) -> OperationUpdate:
        return cls._for(identifier, OperationType.CONTEXT, sub_type, OperationAction.FAIL, error=error)

    @classmethod
    def create_execution_succeed(cls, payload: str) -> OperationUpdate:
        return cls(
            operation_id=_execution_result_id(),
            operation_type=OperationType.EXECUTION,
            action=OperationAction.SUCCEED,
            payload=payload,
        )

    @classmethod
    def create_execution_fail(cls, error: ErrorObject) -> OperationUpdate:
        return cls(
            operation_id=_execution_result_id(),
            operation_type=OperationType.EXECUTION,
            action=OperationAction.FAIL,
            error=error,
        )

    @classmethod
    def create_step_succeed(cls, identifier: OperationIdentifier, payload: str) -> OperationUpdate:
        return cls._for(identifier, OperationType.STEP, OperationSubType.STEP, OperationAction.SUCCEED, payload=payload)

    @classmethod
    def create_step_fail(cls, identifier: OperationIdentifier, error: ErrorObject) -> OperationUpdate:
        return cls._for(identifier, OperationType.STEP, OperationSubType.STEP, OperationAction.FAIL, error=error)

    @classmethod
    def create_step_start(cls, identifier: OperationIdentifier) -> OperationUpdate:
        return cls._for(identifier, OperationType.STEP, OperationSubType.STEP, OperationAction.START)

    @classmethod
    def create_step_retry(
        cls, identifier: OperationIdentifier, error: ErrorObject, next_attempt_delay_seconds: int
    ) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.STEP, OperationSubType.STEP, OperationAction.RETRY,
            error=error, step_options=StepOptions(next_attempt_delay_seconds=next_attempt_delay_seconds),
        )

    @classmethod
    def create_invoke_start(
        cls, identifier: OperationIdentifier, payload: str, chained_invoke_options: ChainedInvokeOptions
    ) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.CHAINED_INVOKE, OperationSubType.CHAINED_INVOKE, OperationAction.START,
            payload=payload, chained_invoke_options=chained_invoke_options,
        )

    @classmethod
    def create_wait_for_condition_start(cls, identifier: OperationIdentifier) -> OperationUpdate:
        return cls._for(identifier, OperationType.STEP, OperationSubType.WAIT_FOR_CONDITION, OperationAction.START)

    @classmethod
    def create_wait_for_condition_succeed(cls, identifier: OperationIdentifier, payload: str) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.STEP, OperationSubType.WAIT_FOR_CONDITION, OperationAction.SUCCEED,
            payload=payload,
        )

    @classmethod
    def create_wait_for_condition_retry(
        cls, identifier: OperationIdentifier, payload: str, next_attempt_delay_seconds: int
    ) -> OperationUpdate:
        """A poll that is not done yet: its state is the payload, and the next poll comes after the delay."""
        return cls._for(
            identifier, OperationType.STEP, OperationSubType.WAIT_FOR_CONDITION, OperationAction.RETRY,
            payload=payload, step_options=StepOptions(next_attempt_delay_seconds=next_attempt_delay_seconds),
        )

    @classmethod
    def create_wait_for_condition_fail(cls, identifier: OperationIdentifier, error: ErrorObject) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.STEP, OperationSubType.WAIT_FOR_CONDITION, OperationAction.FAIL, error=error
        )

    @classmethod
    def create_wait_start(cls, identifier: OperationIdentifier, wait_options: WaitOptions) -> OperationUpdate:
        return cls._for(
            identifier, OperationType.WAIT, OperationSubType.WAIT, OperationAction.START, wait_options=wait_options
        )


# ---------------------------------------------------------------------------
# Checkpointed operations
# ---------------------------------------------------------------------------


class TimestampConverter:
    """The wire's JSON form carries times as Unix milliseconds; the model keeps aware datetimes."""

    @staticmethod
    def to_unix_millis(dt: datetime.datetime | None) -> int | None:
        return int(dt.timestamp() * 1000) if dt else None

    @staticmethod
    def from_unix_millis(ms: int | None) -> datetime.datetime | None:
        return None if ms is None else datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


# Where `to_json_dict` / `from_json_dict` find the timestamps inside an operation's dict.
_TOP_TIMESTAMPS = ("StartTimestamp", "EndTimestamp")
_NESTED_TIMESTAMPS = (("StepDetails", "NextAttemptTimestamp"), ("WaitDetails", "ScheduledEndTimestamp"))


def _convert_timestamps(data: MutableMapping[str, Any], convert: Any) -> None:
    """Apply `convert` in place to every set (truthy) timestamp of an operation's dict."""
    for key in _TOP_TIMESTAMPS:
        if value := data.get(key):
            data[key] = convert(value)
    for outer, key in _NESTED_TIMESTAMPS:
        if (inner := data.get(outer)) and (value := inner.get(key)):
            inner[key] = convert(value)


@dataclass(frozen=True)
class Operation:
    """One operation as the service reports it in execution state and checkpoint responses."""

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_id: str | None = None
    name: str | None = None
    start_timestamp: datetime.datetime | None = None
    end_timestamp: datetime.datetime | None = None
    sub_type: OperationSubType | None = None
    execution_details: ExecutionDetails | None = None
    context_details: ContextDetails | None = None
    step_details: StepDetails | None = None
    wait_details: WaitDetails | None = None
    callback_details: CallbackDetails | None = None
    chained_invoke_details: ChainedInvokeDetails | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> Operation:
        # Parsed in the SDK's order, so malformed input fails with the same exception.
        operation_type = OperationType(data.get("Type"))
        status = OperationStatus(data.get("Status"))
        raw_sub_type = data.get("SubType")
        sub_type = OperationSubType(raw_sub_type) if raw_sub_type else None
        execution_details = _parse_if_set(data, "ExecutionDetails", ExecutionDetails.from_dict)
        context_details = _parse_if_set(data, "ContextDetails", ContextDetails.from_dict)
        step_details = _parse_if_set(data, "StepDetails", StepDetails.from_dict)
        wait_details = _parse_if_set(data, "WaitDetails", WaitDetails.from_dict)
        callback_details = _parse_if_set(data, "CallbackDetails", CallbackDetails.from_dict)
        # The SDK keeps a falsy ChainedInvokeDetails value (say `{}`) as it is instead of None; so do we.
        raw_invoke = data.get("ChainedInvokeDetails")
        chained_invoke_details = ChainedInvokeDetails.from_dict(raw_invoke) if raw_invoke else raw_invoke
        return cls(
            operation_id=data["Id"],
            operation_type=operation_type,
            status=status,
            parent_id=data.get("ParentId"),
            name=data.get("Name"),
            start_timestamp=data.get("StartTimestamp"),
            end_timestamp=data.get("EndTimestamp"),
            sub_type=sub_type,
            execution_details=execution_details,
            context_details=context_details,
            step_details=step_details,
            wait_details=wait_details,
            callback_details=callback_details,
            chained_invoke_details=chained_invoke_details,
        )

    def to_dict(self) -> MutableMapping[str, Any]:
        """The SDK's shape, including its quirks: falsy results are dropped, except a context's, always present."""
        out: MutableMapping[str, Any] = {
            "Id": self.operation_id,
            "Type": self.operation_type.value,
            "Status": self.status.value,
        }
        if self.parent_id:
            out["ParentId"] = self.parent_id
        if self.name:
            out["Name"] = self.name
        if self.start_timestamp:
            out["StartTimestamp"] = self.start_timestamp
        if self.end_timestamp:
            out["EndTimestamp"] = self.end_timestamp
        if self.sub_type:
            out["SubType"] = self.sub_type.value
        if self.execution_details:
            out["ExecutionDetails"] = {"InputPayload": self.execution_details.input_payload}
        if context := self.context_details:
            context_out: MutableMapping[str, Any] = {"Result": context.result}
            if context.error:
                context_out["Error"] = context.error.to_dict()
            if context.replay_children:
                context_out["ReplayChildren"] = context.replay_children
            out["ContextDetails"] = context_out
        if step := self.step_details:
            step_out: MutableMapping[str, Any] = {"Attempt": step.attempt}
            if step.next_attempt_timestamp:
                step_out["NextAttemptTimestamp"] = step.next_attempt_timestamp
            _put_outcome(step_out, step.result, step.error)
            out["StepDetails"] = step_out
        if wait := self.wait_details:
            scheduled = wait.scheduled_end_timestamp
            out["WaitDetails"] = {"ScheduledEndTimestamp": scheduled} if scheduled else {}
        if callback := self.callback_details:
            callback_out: MutableMapping[str, Any] = {"CallbackId": callback.callback_id}
            _put_outcome(callback_out, callback.result, callback.error)
            out["CallbackDetails"] = callback_out
        if invoke := self.chained_invoke_details:
            invoke_out: MutableMapping[str, Any] = {}
            _put_outcome(invoke_out, invoke.result, invoke.error)
            out["ChainedInvokeDetails"] = invoke_out
        return out

    def to_json_dict(self) -> MutableMapping[str, Any]:
        """`to_dict` with its datetimes as Unix milliseconds, so it can be written as JSON."""
        out = self.to_dict()
        _convert_timestamps(out, TimestampConverter.to_unix_millis)
        return out

    @classmethod
    def from_json_dict(cls, data: MutableMapping[str, Any]) -> Operation:
        """Read what `to_json_dict` wrote; `data` is left unchanged."""
        converted = copy.deepcopy(data)
        _convert_timestamps(converted, TimestampConverter.from_unix_millis)
        return cls.from_dict(converted)


def _put_outcome(out: MutableMapping[str, Any], result: str | None, error: ErrorObject | None) -> None:
    if result:
        out["Result"] = result
    if error:
        out["Error"] = error.to_dict()


@dataclass(frozen=True)
class CheckpointUpdatedExecutionState:
    """Operations changed since the caller's last checkpoint, paged by `next_marker`."""

    operations: list[Operation] = field(default_factory=list)
    next_marker: str | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> CheckpointUpdatedExecutionState:
        return cls(operations=_operations_from(data), next_marker=data.get("NextMarker"))


@dataclass(frozen=True)
class CheckpointOutput:
    """A checkpoint's response; the token is None after the checkpoint that ends the execution."""

    checkpoint_token: str | None
    new_execution_state: CheckpointUpdatedExecutionState

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> CheckpointOutput:
        raw_state = data.get("NewExecutionState")
        state = CheckpointUpdatedExecutionState.from_dict(raw_state) if raw_state else CheckpointUpdatedExecutionState()
        return cls(checkpoint_token=data.get("CheckpointToken"), new_execution_state=state)


@dataclass(frozen=True)
class StateOutput:
    """One page of an execution's operations, as read back on replay."""

    operations: list[Operation] = field(default_factory=list)
    next_marker: str | None = None

    @classmethod
    def from_dict(cls, data: MutableMapping[str, Any]) -> StateOutput:
        return cls(operations=_operations_from(data), next_marker=data.get("NextMarker"))


def _operations_from(data: MutableMapping[str, Any]) -> list[Operation]:
    return [Operation.from_dict(op) for op in data.get("Operations") or []]


# ---------------------------------------------------------------------------
# Service clients
# ---------------------------------------------------------------------------


class DurableServiceClient(Protocol):
    """What the SDK needs from the durable service: write checkpoints, read execution state."""

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[OperationUpdate],
        client_token: str | None,
    ) -> CheckpointOutput: ...  # pragma: no cover

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> StateOutput: ...  # pragma: no cover


class LambdaClient(DurableServiceClient):
    """The SDK's client of the Lambda durable-function APIs, kept for its name and signatures.

    This runtime calls no AWS service, so it never builds a boto3 client:
    `initialize_client()` and `LambdaClient()` raise.  Given an object with
    boto3's `checkpoint_durable_execution` / `get_durable_execution_state`
    methods (a stub, say), it calls them the way the SDK does.
    """

    _cached_boto_client: ClassVar[Any | None] = None

    def __init__(self, client: Any = None) -> None:
        if client is None:
            raise NotImplementedError(_NO_LAMBDA_SERVICE)
        self.client = client

    @classmethod
    def initialize_client(cls) -> LambdaClient:
        raise NotImplementedError(_NO_LAMBDA_SERVICE)

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[OperationUpdate],
        client_token: str | None,
    ) -> CheckpointOutput:
        # Without a token the call cannot succeed; fail retryably rather than with the service's validation error.
        if not checkpoint_token:
            raise CheckpointError("Cannot checkpoint without a checkpoint token.")
        try:
            extra: dict[str, str] = {} if client_token is None else {"ClientToken": client_token}
            response = self.client.checkpoint_durable_execution(
                DurableExecutionArn=durable_execution_arn,
                CheckpointToken=checkpoint_token,
                Updates=[update.to_dict() for update in updates],
                **extra,
            )
            return CheckpointOutput.from_dict(response)
        except Exception as e:
            error = CheckpointError.from_exception(e)
            logger.exception("Failed to checkpoint.", extra=error.build_logger_extras())
            raise error from None

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> StateOutput:
        if not checkpoint_token:
            raise GetExecutionStateError("Cannot get execution state without a checkpoint token.")
        try:
            response = self.client.get_durable_execution_state(
                DurableExecutionArn=durable_execution_arn,
                CheckpointToken=checkpoint_token,
                Marker=next_marker,
                MaxItems=max_items,
            )
            return StateOutput.from_dict(response)
        except Exception as e:
            error = GetExecutionStateError.from_exception(e)
            logger.exception("Failed to get execution state.", extra=error.build_logger_extras())
            raise error from None


__all__ = [
    "CallbackDetails",
    "CallbackOptions",
    "CallbackTimeoutType",
    "ChainedInvokeDetails",
    "ChainedInvokeOptions",
    "CheckpointOutput",
    "CheckpointUpdatedExecutionState",
    "ContextDetails",
    "ContextOptions",
    "DurableExecutionInvocationOutput",
    "DurableServiceClient",
    "ErrorObject",
    "ExecutionDetails",
    "InvocationStatus",
    "LambdaClient",
    "Operation",
    "OperationAction",
    "OperationPayload",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "ReplayChildren",
    "StateOutput",
    "StepDetails",
    "StepOptions",
    "TimeoutSeconds",
    "TimestampConverter",
    "WaitDetails",
    "WaitOptions",
    "logger",
]
