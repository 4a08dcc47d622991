"""context.run_in_child_context: a function whose operations nest under one CONTEXT operation.

A result over the checkpoint size limit is not stored: the context is marked
ReplayChildren, and replay re-runs the function over its (checkpointed)
children to rebuild the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from durable.config import ChildConfig
from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import ChildContextError, SerDesError, SuspendExecution
from durable.operations.base import check_replay, recorded_error, updater
from durable.serdes import SerDesContext, deserialize, serialize

if TYPE_CHECKING:
    from durable.context import DurableContext

T = TypeVar("T")

CHECKPOINT_SIZE_LIMIT = 256 * 1024


def run_child(
    context: DurableContext,
    func: Callable[[DurableContext], T],
    name: str | None,
    config: ChildConfig[Any] | None,
) -> T:
    config = config or ChildConfig()
    name = name if name is not None else getattr(func, "_durable_child_name", None)
    return run_child_at(context, context.next_operation_id(), func, name, config)


def run_child_at(
    context: DurableContext,
    operation_id: str,
    func: Callable[[DurableContext], T],
    name: str | None,
    config: ChildConfig[Any],
) -> T:
    """Run `func` as the child context `operation_id` under `context` (map and parallel branches use this too)."""
    sub_type = config.sub_type or OperationSubType.RUN_IN_CHILD_CONTEXT
    invocation = context.invocation
    serdes_context = SerDesContext(operation_id, invocation.execution_arn)
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.CONTEXT, name, sub_type)
    child = context.child(operation_id)

    if recorded is not None:
        if recorded.status is OperationStatus.SUCCEEDED:
            if recorded.replay_children:
                return func(child)
            return deserialize(config.serdes, recorded.result, serdes_context)
        if recorded.status is OperationStatus.FAILED:
            raise recorded_error(ChildContextError, recorded.error)

    update = updater(context, operation_id, OperationType.CONTEXT, name, sub_type)

    if recorded is None:
        invocation.checkpoint(update(OperationAction.START), wait=False)
    try:
        value = func(child)
    except SuspendExecution:
        raise
    except Exception as error:
        failure = ErrorObject.from_exception(error)
        invocation.checkpoint(update(OperationAction.FAIL, error=failure))
        raise recorded_error(ChildContextError, failure) from error
    try:
        payload = serialize(config.serdes, value, serdes_context)
    except SerDesError as error:
        invocation.checkpoint(update(OperationAction.FAIL, error=ErrorObject.from_exception(error)))
        raise
    if payload is not None and len(payload.encode()) > CHECKPOINT_SIZE_LIMIT:
        summary = config.summary_generator(value) if config.summary_generator else None
        invocation.checkpoint(update(OperationAction.SUCCEED, replay_children=True, payload=summary))
        return value
    invocation.checkpoint(update(OperationAction.SUCCEED, payload=payload))
    return deserialize(config.serdes, payload, serdes_context)
