"""The exception hierarchy, named as in the AWS Durable Execution SDK.

`DurableExecutionsError` roots everything the runtime raises.  Operation
failures that user code may catch (`StepError`, `ChildContextError`, ...) are
`DurableOperationError`s and carry the recorded error's type, message, data
and stack trace, so a replay re-raises exactly what the first run saw.

`SuspendExecution` is deliberately a `BaseException`: a handler's
`except Exception` must never swallow the signal that ends an invocation.
"""

from __future__ import annotations

from typing import Any


class DurableExecutionsError(Exception):
    """Base of every error the runtime raises."""


class ValidationError(DurableExecutionsError):
    """An argument or configuration is invalid; raised before anything is checkpointed."""


class SerDesError(DurableExecutionsError):
    """A value could not be serialized or deserialized."""


class InvalidStateError(DurableExecutionsError):
    """An operation was used in a state that does not allow it."""


class UnrecoverableError(DurableExecutionsError):
    """An error that ends the execution instead of being retried."""


class ExecutionError(UnrecoverableError):
    """The execution cannot continue."""


class NonDeterministicExecutionError(ExecutionError):
    """Replay asked for a different operation than the one recorded at that id."""


class InvocationError(UnrecoverableError):
    """The invocation could not complete (its checkpoints were rejected, for example)."""


class CheckpointRejectedError(InvocationError):
    """The store refused a checkpoint: the invocation was fenced (timed out or stopped)."""


class UnknownCallbackError(DurableExecutionsError):
    """No open or closed callback has this id: it is forged, mutated, or was never issued here.

    Deliberately says nothing more, so a caller cannot probe which part of an id was wrong.
    """

    def __init__(self) -> None:
        super().__init__("unknown callback")


class CallbackConflictError(DurableExecutionsError):
    """The callback is already completed or timed out; its first outcome stands."""


class PayloadTooLargeError(ValidationError):
    """A payload is over the size the runtime checkpoints (256 KiB)."""


class DurableOperationError(DurableExecutionsError):
    """A durable operation failed; carries the recorded error."""

    def __init__(
        self,
        message: str,
        error_type: str | None = None,
        data: Any = None,
        stack_trace: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.data = data
        self.stack_trace = stack_trace


class StepError(DurableOperationError):
    """A step failed after its retries."""


class StepInterruptedError(DurableOperationError):
    """An AT_MOST_ONCE_PER_RETRY step was started and never finished."""


class InvokeError(DurableOperationError):
    """A chained invoke failed, timed out or was stopped."""


class ChildContextError(DurableOperationError):
    """A child context failed."""


class WaitForConditionError(DurableOperationError):
    """A wait_for_condition check failed."""


class CallbackError(DurableOperationError):
    """A callback failed."""


class CallbackExternalError(CallbackError):
    """The external system reported a failure for the callback."""


class CallbackTimeoutError(CallbackError):
    """The callback timed out or missed its heartbeat."""


class CallbackSubmitterError(CallbackError):
    """The wait_for_callback submitter failed."""


class SuspendExecution(BaseException):
    """Ends the invocation (or a map/parallel branch) PENDING until `resume_at`, or an outside event if None.

    `waiting_on` names the operation an outside party will close (a callback,
    a chained invoke), so a batch can re-run just that branch when it closes.
    """

    def __init__(self, reason: str, resume_at: float | None = None, waiting_on: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resume_at = resume_at
        self.waiting_on = waiting_on
