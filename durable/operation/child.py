"""run_in_child_context (and each map item, parallel branch and wait_for_callback): operations nested under one CONTEXT.

The first run returns the function's own value; a replay returns the
checkpointed result.  A result over the checkpoint size limit is not stored:
the context is marked ReplayChildren (with the summary generator's summary,
if any), and replay runs the function again over its checkpointed children
to rebuild it.  A virtual context (a FLAT branch) checkpoints nothing of its
own.  A failure is recorded and raised as ChildContextError, caused by the
error it records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from durable.config import ChildConfig
from durable.constants import CHECKPOINT_SIZE_LIMIT_BYTES
from durable.core.records import ErrorObject, OperationAction, OperationStatus
from durable.exceptions import ChildContextError, InvocationError, SuspendExecution
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.operation.base import raise_operation_error, recorded, update
from durable.plugin_session import child_context_ended, run_user_function
from durable.serdes import deserialize, serialize

T = TypeVar("T")


def child_handler(
    func: Callable[[], T], invocation: Invocation, identifier: OperationIdentifier, config: ChildConfig[T] | None
) -> T:
    config = config or ChildConfig()
    arn, operation_id = invocation.execution_arn, identifier.operation_id
    record = None if config.is_virtual else recorded(invocation, identifier)
    replay_children = record is not None and record.status is OperationStatus.SUCCEEDED and record.replay_children
    if record is not None and record.status is OperationStatus.SUCCEEDED and not replay_children:
        return None if record.result is None else deserialize(config.serdes, record.result, operation_id, arn)  # type: ignore[return-value]
    if record is not None and record.status is OperationStatus.FAILED:
        raise_operation_error(record, ChildContextError)
    if record is None and not config.is_virtual:
        invocation.checkpoint(update(identifier, OperationAction.START), wait=False)
    try:
        value = run_user_function(
            invocation, identifier, func, attempt=1 if record is None else None, is_replay_children=replay_children
        )
        if config.is_virtual or replay_children:
            child_context_ended(invocation, identifier, OperationStatus.SUCCEEDED, is_replayed=replay_children)
            return value
        payload = serialize(config.serdes, value, operation_id, arn)
        if len(payload) > CHECKPOINT_SIZE_LIMIT_BYTES:
            summary = config.summary_generator(value) if config.summary_generator else ""
            invocation.checkpoint_outcome(
                update(identifier, OperationAction.SUCCEED, payload=summary, replay_children=True)
            )
        else:
            invocation.checkpoint_outcome(update(identifier, OperationAction.SUCCEED, payload=payload))
        return value
    except SuspendExecution:
        raise
    except Exception as error:
        if isinstance(error, InvocationError) and error.is_retryable():
            raise
        failure = ErrorObject.from_exception(error)
        if config.is_virtual:
            child_context_ended(invocation, identifier, OperationStatus.FAILED, error=failure)
        else:
            invocation.checkpoint(update(identifier, OperationAction.FAIL, error=failure))
        failure.raise_as_operation_error(ChildContextError)
