"""context.wait_for_callback: create a callback, hand its id to a submitter, wait for the result.

All of it runs in one child context (sub-type WaitForCallback): the callback,
then the submitter as a step retried by the configured strategy, then the
callback's result.  Failures come out as the CallbackError that says what
went wrong, on the first run and on replay alike, classified by the recorded
error type: a timeout or missed heartbeat (`CallbackTimeoutError`), a
submitter that kept failing (`CallbackSubmitterError`), or the outside
system's failure (`CallbackExternalError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from durable.config import CallbackConfig, ChildConfig, StepConfig, WaitForCallbackConfig
from durable.core.records import OperationSubType
from durable.exceptions import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableOperationError,
    StepError,
    ValidationError,
)
from durable.operations.callback import TIMEOUT_ERROR_TYPES, run_create_callback
from durable.operations.child import run_child_at
from durable.types import StepContext, WaitForCallbackContext

if TYPE_CHECKING:
    from durable.context import DurableContext

Submitter = Callable[[str, WaitForCallbackContext], None]
SUBMITTER_ERROR_TYPE = "CallbackSubmitterError"


def run_wait_for_callback(
    context: DurableContext, submitter: Submitter, name: str | None, config: WaitForCallbackConfig | None
) -> Any:
    if not callable(submitter):
        raise ValidationError(f"wait_for_callback takes a submitter function, got {type(submitter).__name__}")
    config = config or WaitForCallbackConfig()
    name = name if name is not None else getattr(submitter, "_durable_wait_for_callback_name", None)
    callback_config = CallbackConfig(config.timeout, config.heartbeat_timeout, config.serdes)

    def body(child: DurableContext) -> Any:
        callback = run_create_callback(child, None, callback_config)

        def submit(step_context: StepContext) -> None:
            submitter(callback.callback_id, WaitForCallbackContext(logger=step_context.logger))

        try:
            child.step(submit, config=StepConfig(retry_strategy=config.retry_strategy))
        except StepError as error:
            raise CallbackSubmitterError(
                f"the submitter failed: {error.error_type}: {error.message}", SUBMITTER_ERROR_TYPE
            ) from error
        return callback.result()

    child_config: ChildConfig[Any] = ChildConfig(serdes=config.serdes, sub_type=OperationSubType.WAIT_FOR_CALLBACK)
    try:
        return run_child_at(context, context.next_operation_id(), body, name, child_config)
    except ChildContextError as error:
        raise _classified(error) from error


def _classified(error: DurableOperationError) -> CallbackError:
    kind: type[CallbackError]
    if error.error_type in TIMEOUT_ERROR_TYPES:
        kind = CallbackTimeoutError
    elif error.error_type == SUBMITTER_ERROR_TYPE:
        kind = CallbackSubmitterError
    elif error.error_type == "SerDesError":
        kind = CallbackError
    else:
        kind = CallbackExternalError
    return kind(error.message, error.error_type, error.data, error.stack_trace)
