"""context.invoke: run another registered function as its own execution and wait for its outcome.

The START checkpoint records the function, the serialized payload and the
tenant (and waits for the commit); the engine then starts the chained
execution under an id derived from this operation, so starting it again
(after a crash, on replay) is a no-op.  The caller suspends; when the
chained execution ends, the service closes this operation with its result or
error and wakes the caller.  A timeout (ours: `InvokeConfig.timeout`) is a
durable timer.  Replay returns the recorded outcome and never invokes again.
A function the engine has not registered fails the operation at once.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from durable.clock import skew
from durable.config import InvokeConfig
from durable.core.records import ErrorObject, OperationAction, OperationStatus
from durable.exceptions import InvokeError, ValidationError, suspend
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.operation.base import raise_operation_error, recorded, update
from durable.serdes import DEFAULT_JSON_SERDES, deserialize, serialize

P = TypeVar("P")
R = TypeVar("R")

CHILD_GRACE = 1

_CLOSED = frozenset({OperationStatus.FAILED, OperationStatus.TIMED_OUT, OperationStatus.STOPPED})


def chained_execution_id(execution_arn: str, operation_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"durable:{execution_arn}/{operation_id}").hex


def run_invoke(
    function_name: str, payload: P, invocation: Invocation, identifier: OperationIdentifier, config: InvokeConfig[P, R]
) -> R:
    if not isinstance(function_name, str) or not function_name:
        raise ValidationError(f"invoke needs a function name, got {function_name!r}")
    arn, operation_id = invocation.execution_arn, identifier.operation_id
    record = recorded(invocation, identifier)
    if record is not None and record.status is OperationStatus.SUCCEEDED:
        if record.result is None:
            return None  # type: ignore[return-value]
        return deserialize(config.serdes_result or DEFAULT_JSON_SERDES, record.result, operation_id, arn)
    if record is not None and record.status in _CLOSED:
        raise_operation_error(record, InvokeError)
    engine: Any = invocation.engine
    child_id = chained_execution_id(arn, operation_id)
    timeout = config.timeout.seconds if config.timeout is not None and config.timeout.seconds > 0 else None
    body = serialize(config.serdes_payload or DEFAULT_JSON_SERDES, payload, operation_id, arn)
    if record is None:
        extra = {"function_name": function_name, "tenant_id": config.tenant_id, "child_execution_id": child_id}
        start = update(identifier, OperationAction.START, payload=body, wait_seconds=timeout, extra=extra)
        invocation.checkpoint(start)
        if not engine.has_function(function_name):
            error = ErrorObject(engine.unknown_function(function_name), "Invoke.FunctionNotFound")
            invocation.checkpoint(update(identifier, OperationAction.FAIL, error=error))
            error.raise_as_operation_error(InvokeError)
    # The invoked execution may run a second past the caller's timeout, so the caller's own timeout, not the
    # child's, decides the operation's outcome.
    child_timeout = timeout + CHILD_GRACE if timeout is not None else None
    engine.start_chained(child_id, function_name, body, (arn, operation_id), config.tenant_id, child_timeout)
    resume_at = record.due_at(skew(invocation.clock)) if record is not None else (
        invocation.clock.now() + timeout if timeout is not None else None
    )
    raise suspend(f"Invoke {operation_id} started, suspending for completion", resume_at, waiting_on=operation_id)
