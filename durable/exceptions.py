"""The exception hierarchy, as in the AWS Durable Execution SDK (same names, bases and constructors).

`DurableExecutionsError` roots everything the runtime raises.  Operation
failures that user code may catch (`StepError`, `ChildContextError`, ...) are
`DurableOperationError`s: they carry the recorded error's type, message, data
and stack trace, so a replay re-raises what the first run saw, and
`from_error_fields` rebuilds the right class from a recorded error type.

`SuspendExecution` is a `BaseException` on purpose: a handler's
`except Exception` must never swallow the signal that ends an invocation.

Beyond the SDK: `UnknownCallbackError`, `CallbackConflictError` and
`PayloadTooLargeError` are what outside completions are refused with, and
`CheckpointRejectedError` ends an invocation whose writes were fenced.
"""

from __future__ import annotations

import enum
import time
from datetime import datetime
from typing import Any, Self, TypedDict

BAD_REQUEST_ERROR: int = 400
TOO_MANY_REQUESTS_ERROR: int = 429
SERVICE_ERROR: int = 500
INVALID_PARAMETER_VALUE_EXCEPTION: str = "InvalidParameterValueException"
INVALID_CHECKPOINT_TOKEN_PREFIX: str = "Invalid Checkpoint Token"

_NEEDS_THE_CUSTOMER = frozenset(
    {"KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException"}
)


class TerminationReason(enum.Enum):
    """Why an unrecoverable error ended an invocation or an execution."""

    UNHANDLED_ERROR = "UNHANDLED_ERROR"
    INVOCATION_ERROR = "INVOCATION_ERROR"
    EXECUTION_ERROR = "EXECUTION_ERROR"
    CHECKPOINT_FAILED = "CHECKPOINT_FAILED"
    NON_DETERMINISTIC_EXECUTION = "NON_DETERMINISTIC_EXECUTION"
    STEP_INTERRUPTED = "STEP_INTERRUPTED"
    SERIALIZATION_ERROR = "SERIALIZATION_ERROR"


class DurableExecutionsError(Exception):
    """Base of every error the runtime raises."""


class UnrecoverableError(DurableExecutionsError):
    """An error that no retry of the operation can fix."""

    def __init__(self, message: str, termination_reason: TerminationReason) -> None:
        super().__init__(message)
        self.termination_reason = termination_reason


class ExecutionError(UnrecoverableError):
    """Fails the execution at once (a step does not retry it)."""

    def __init__(self, message: str, termination_reason: TerminationReason = TerminationReason.EXECUTION_ERROR) -> None:
        super().__init__(message, termination_reason)


class InvocationError(UnrecoverableError):
    """Ends the invocation; the execution is invoked again."""

    def __init__(
        self, message: str, termination_reason: TerminationReason = TerminationReason.INVOCATION_ERROR
    ) -> None:
        super().__init__(message, termination_reason)

    def is_retryable(self) -> bool:
        return True


class DurableApiErrorCategory(enum.Enum):
    """Whether a service error ends the invocation (retried) or the execution."""

    INVOCATION = "INVOCATION"
    EXECUTION = "EXECUTION"


CheckpointErrorCategory = DurableApiErrorCategory


class AwsErrorObj(TypedDict):
    Code: str | None
    Message: str | None


class AwsErrorMetadata(TypedDict):
    RequestId: str | None
    HostId: str | None
    HTTPStatusCode: int | None
    HTTPHeaders: str | None
    RetryAttempts: str | None


class BotoClientError(InvocationError):
    """A failed call to the AWS service; kept for the SDK's name (this runtime calls no AWS service)."""

    def __init__(
        self,
        message: str,
        error_category: DurableApiErrorCategory = DurableApiErrorCategory.INVOCATION,
        error: AwsErrorObj | None = None,
        response_metadata: AwsErrorMetadata | None = None,
        termination_reason: TerminationReason = TerminationReason.INVOCATION_ERROR,
    ) -> None:
        super().__init__(message, termination_reason)
        self.error = error
        self.response_metadata = response_metadata
        self.error_category = error_category

    @classmethod
    def from_exception(cls, exception: Exception) -> Self:
        """Wrap a botocore-style error (its `response` dict), classifying whether a retry can help."""
        response = getattr(exception, "response", {}) or {}
        error = response.get("Error")
        metadata = response.get("ResponseMetadata")
        return cls(
            message=str(exception),
            error_category=_category(error, metadata),
            error=error,
            response_metadata=metadata,
        )

    def is_retryable(self) -> bool:
        return self.error_category is DurableApiErrorCategory.INVOCATION

    is_retriable = is_retryable

    def build_logger_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if self.error:
            extras["Error"] = self.error
        if self.response_metadata:
            extras["ResponseMetadata"] = self.response_metadata
        return extras


def _category(error: AwsErrorObj | None, metadata: AwsErrorMetadata | None) -> DurableApiErrorCategory:
    """EXECUTION (retrying cannot help) for KMS misconfiguration and 4xx client errors; INVOCATION otherwise.

    Throttling (429) and a stale checkpoint token are 4xx but pass with time, so they stay retryable.
    """
    code = (error.get("Code") if error else None) or ""
    if code in _NEEDS_THE_CUSTOMER:
        return DurableApiErrorCategory.EXECUTION
    status = (metadata.get("HTTPStatusCode") if metadata else None) or 0
    message = (error.get("Message") if error else None) or ""
    stale_token = code == INVALID_PARAMETER_VALUE_EXCEPTION and message.startswith(INVALID_CHECKPOINT_TOKEN_PREFIX)
    if error and BAD_REQUEST_ERROR <= status < SERVICE_ERROR and status != TOO_MANY_REQUESTS_ERROR and not stale_token:
        return DurableApiErrorCategory.EXECUTION
    return DurableApiErrorCategory.INVOCATION


class CheckpointError(BotoClientError):
    """A checkpoint could not be written."""

    def __init__(
        self,
        message: str,
        error_category: DurableApiErrorCategory = DurableApiErrorCategory.INVOCATION,
        error: AwsErrorObj | None = None,
        response_metadata: AwsErrorMetadata | None = None,
    ) -> None:
        super().__init__(message, error_category, error, response_metadata, TerminationReason.CHECKPOINT_FAILED)


class GetExecutionStateError(BotoClientError):
    """The execution's state could not be read."""

    def __init__(
        self,
        message: str,
        error_category: DurableApiErrorCategory = DurableApiErrorCategory.INVOCATION,
        error: AwsErrorObj | None = None,
        response_metadata: AwsErrorMetadata | None = None,
    ) -> None:
        super().__init__(message, error_category, error, response_metadata, TerminationReason.INVOCATION_ERROR)


class NonDeterministicExecutionError(ExecutionError):
    """The handler asked for a different operation than the history holds at this point."""

    def __init__(self, message: str, step_id: str | None = None) -> None:
        super().__init__(message, TerminationReason.NON_DETERMINISTIC_EXECUTION)
        self.step_id = step_id


class CheckpointRejectedError(CheckpointError):
    """The store refused this invocation's write: it was fenced (timed out, stopped) or the execution ended."""


class ValidationError(DurableExecutionsError):
    """An argument or a configuration value is not acceptable."""


class InvalidStateError(DurableExecutionsError):
    """An object was used in a state that does not allow it."""


class SerDesError(DurableExecutionsError):
    """A value could not be serialized or deserialized."""


class UnknownCallbackError(DurableExecutionsError):
    """A callback id that this engine never minted, or that was altered: nothing is changed."""

    def __init__(self) -> None:
        super().__init__("unknown callback")


class CallbackConflictError(DurableExecutionsError):
    """The callback (or its execution) is already closed: the first outcome stands."""


class PayloadTooLargeError(ValidationError):
    """A value over the 256 KiB limit: refused before it is stored."""


class DurableOperationError(DurableExecutionsError):
    """A failed operation, as user code sees it: the recorded error's type, message, data and stack trace."""

    def __init__(
        self,
        message: str | None = None,
        error_type: str | None = None,
        data: str | None = None,
        stack_trace: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type: str = error_type or type(self).__name__
        self.data = data
        self.stack_trace = stack_trace

    @classmethod
    def from_error_fields(
        cls, error_type: str | None, message: str | None, data: str | None, stack_trace: list[str] | None
    ) -> DurableOperationError:
        """The operation error class whose name is `error_type` (this base class for any other type)."""
        kind = _OPERATION_ERRORS.get(error_type or "", DurableOperationError)
        return kind(message=message, error_type=error_type, data=data, stack_trace=stack_trace)


class StepError(DurableOperationError):
    """A step failed and its retry strategy gave up."""


class InvokeError(DurableOperationError):
    """A chained invoke failed, timed out or was stopped."""


class ChildContextError(DurableOperationError):
    """A child context (or a map item or parallel branch) failed."""


class WaitForConditionError(DurableOperationError):
    """A wait_for_condition check raised, or its strategy gave up."""


class CallbackError(DurableOperationError):
    """A callback failed."""


class CallbackExternalError(CallbackError):
    """The outside system reported a failure."""


class CallbackTimeoutError(CallbackError):
    """The callback timed out, or missed its heartbeat."""


class CallbackSubmitterError(CallbackError):
    """The wait_for_callback submitter failed."""


_OPERATION_ERRORS: dict[str, type[DurableOperationError]] = {
    kind.__name__: kind
    for kind in (
        StepError, InvokeError, ChildContextError, WaitForConditionError, CallbackError, CallbackExternalError,
        CallbackTimeoutError, CallbackSubmitterError,
    )
}


class StepInterruptedError(InvocationError):
    """An at-most-once step attempt was started and never finished (its process died): it is not run again."""

    def __init__(self, message: str, step_id: str | None = None) -> None:
        super().__init__(message, TerminationReason.STEP_INTERRUPTED)
        self.step_id = step_id


class BackgroundThreadError(BaseException):
    """A failure of the machinery behind the handler, carried to the handler's thread."""

    def __init__(self, message: str, source_exception: Exception) -> None:
        super().__init__(message)
        self.source_exception = source_exception


class SuspendExecution(BaseException):
    """Ends the invocation (or a map or parallel branch) PENDING, until an outside event.

    `waiting_on` (ours) names the operation an outside party will close (a
    callback, a chained invoke), so a batch re-runs just that branch when it does.
    """

    def __init__(self, message: str, *, waiting_on: str | None = None) -> None:
        super().__init__(message)
        self.waiting_on = waiting_on

    @property
    def resume_at(self) -> float | None:
        """When the suspension ends on its own (seconds since the epoch); None: only an outside event ends it."""
        return None


class TimedSuspendExecution(SuspendExecution):
    """A suspension that ends at `scheduled_timestamp` (seconds since the epoch), or earlier on an outside event."""

    def __init__(self, message: str, scheduled_timestamp: float, *, waiting_on: str | None = None) -> None:
        super().__init__(message, waiting_on=waiting_on)
        self.scheduled_timestamp = scheduled_timestamp

    @property
    def resume_at(self) -> float | None:
        return self.scheduled_timestamp

    @classmethod
    def from_delay(cls, message: str, delay_seconds: int) -> TimedSuspendExecution:
        return cls(message, scheduled_timestamp=time.time() + delay_seconds)

    @classmethod
    def from_datetime(cls, message: str, datetime_timestamp: datetime) -> TimedSuspendExecution:
        return cls(message, scheduled_timestamp=datetime_timestamp.timestamp())


def suspend(message: str, resume_at: float | None, waiting_on: str | None = None) -> SuspendExecution:
    """A timed suspension when `resume_at` is known, else one that only an outside event ends."""
    if resume_at is None:
        return SuspendExecution(message, waiting_on=waiting_on)
    return TimedSuspendExecution(message, resume_at, waiting_on=waiting_on)


class OrderedLockError(DurableExecutionsError):
    """Kept for the SDK's name: nothing here takes ordered locks."""

    def __init__(self, message: str, source_exception: Exception | None = None) -> None:
        text = f"{message} {type(source_exception).__name__}: {source_exception}" if source_exception else message
        super().__init__(text)
        self.source_exception = source_exception


class OrphanedChildException(BaseException):
    """Raised in a branch whose parent already finished (first-successful, say): the branch stops."""

    def __init__(self, message: str, operation_id: str) -> None:
        super().__init__(message)
        self.operation_id = operation_id


__all__ = [
    "BAD_REQUEST_ERROR",
    "INVALID_CHECKPOINT_TOKEN_PREFIX",
    "INVALID_PARAMETER_VALUE_EXCEPTION",
    "SERVICE_ERROR",
    "TOO_MANY_REQUESTS_ERROR",
    "AwsErrorMetadata",
    "AwsErrorObj",
    "BackgroundThreadError",
    "BotoClientError",
    "CallbackConflictError",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "CheckpointError",
    "CheckpointErrorCategory",
    "CheckpointRejectedError",
    "ChildContextError",
    "DurableApiErrorCategory",
    "DurableExecutionsError",
    "DurableOperationError",
    "ExecutionError",
    "GetExecutionStateError",
    "InvalidStateError",
    "InvocationError",
    "InvokeError",
    "NonDeterministicExecutionError",
    "OrderedLockError",
    "OrphanedChildException",
    "PayloadTooLargeError",
    "SerDesError",
    "StepError",
    "StepInterruptedError",
    "SuspendExecution",
    "TerminationReason",
    "TimedSuspendExecution",
    "UnknownCallbackError",
    "UnrecoverableError",
    "ValidationError",
    "WaitForConditionError",
]

