"""context.invoke: run another registered function as its own execution and wait for its outcome.

The START checkpoint records the function, the serialized payload and the
tenant; the engine then starts the chained execution under an id derived
from this operation, so starting it again (after a crash, on replay) is a
no-op.  The caller suspends; when the chained execution ends, the service
closes this operation with its result or error and wakes the caller.  A
timeout is a durable timer.  Replay returns the recorded outcome and never
invokes again.  An unknown function fails the operation at once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from durable.config import InvokeConfig
from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import InvokeError, SuspendExecution, ValidationError
from durable.operations.base import check_replay, recorded_error, updater
from durable.serdes import SerDesContext, deserialize, serialize

if TYPE_CHECKING:
    from durable.context import DurableContext


def chained_execution_id(execution_arn: str, operation_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"durable:{execution_arn}/{operation_id}").hex


def run_invoke(
    context: DurableContext, function_name: str, payload: Any, name: str | None, config: InvokeConfig | None
) -> Any:
    if not isinstance(function_name, str) or not function_name:
        raise ValidationError(f"invoke needs a function name, got {function_name!r}")
    config = config or InvokeConfig()
    invocation = context.invocation
    engine = invocation.engine
    operation_id = context.next_operation_id()
    serdes_context = SerDesContext(operation_id, invocation.execution_arn)
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.CHAINED_INVOKE, name)
    child_id = chained_execution_id(invocation.execution_arn, operation_id)
    timeout = config.timeout.seconds if config.timeout is not None and config.timeout.seconds > 0 else None
    if recorded is not None and recorded.status is OperationStatus.SUCCEEDED:
        return deserialize(config.serdes_result, recorded.result, serdes_context)
    if recorded is not None and recorded.status.is_terminal:
        raise recorded_error(InvokeError, recorded.error)
    body = serialize(config.serdes_payload, payload, serdes_context)
    if recorded is None:
        update = updater(context, operation_id, OperationType.CHAINED_INVOKE, name, OperationSubType.CHAINED_INVOKE)
        extra = {"function_name": function_name, "tenant_id": config.tenant_id, "child_execution_id": child_id}
        invocation.checkpoint(update(OperationAction.START, payload=body, wait_seconds=timeout, extra=extra))
        if not engine.has_function(function_name):
            error = ErrorObject(engine.unknown_function(function_name), "Invoke.FunctionNotFound")
            invocation.checkpoint(update(OperationAction.FAIL, error=error))
            raise recorded_error(InvokeError, error)
    parent = (invocation.execution_arn, operation_id)
    engine.start_chained(child_id, function_name, body, parent, config.tenant_id, timeout)
    resume_at = recorded.due_timestamp if recorded is not None else (
        invocation.clock.now() + timeout if timeout is not None else None
    )
    raise SuspendExecution(f"invoke {operation_id} waits for {function_name}", resume_at, operation_id)
