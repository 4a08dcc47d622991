"""What every operation shares: determinism checks and raising recorded errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationRecord,
    OperationSubType,
    OperationType,
    RecordUpdate,
)
from durable.exceptions import DurableOperationError, NonDeterministicExecutionError

if TYPE_CHECKING:
    from durable.context import DurableContext

Updater = Callable[..., RecordUpdate]


def updater(
    context: DurableContext,
    operation_id: str,
    operation_type: OperationType,
    name: str | None,
    sub_type: OperationSubType | None,
) -> Updater:
    """Checkpoint requests for one operation: `update(OperationAction.SUCCEED, payload=...)`."""

    def update(action: OperationAction, **fields: Any) -> RecordUpdate:
        return RecordUpdate(
            operation_id, operation_type, action, context.recorded_parent_id, name, sub_type, **fields
        )

    return update


def check_replay(
    recorded: OperationRecord | None,
    operation_id: str,
    operation_type: OperationType,
    name: str | None,
    sub_type: OperationSubType | None = None,
) -> OperationRecord | None:
    """Return the recorded operation if it is the one asked for; raise if the handler diverged."""
    if recorded is None:
        return None
    same_type = recorded.operation_type is operation_type and (
        sub_type is None or recorded.sub_type is None or recorded.sub_type is sub_type
    )
    if not same_type or recorded.name != name:
        raise NonDeterministicExecutionError(
            f"operation {operation_id}: the handler asked for {_describe(operation_type, sub_type, name)} "
            f"but the history has {_describe(recorded.operation_type, recorded.sub_type, recorded.name)} there; "
            "the handler is not deterministic"
        )
    return recorded


def _describe(operation_type: OperationType, sub_type: OperationSubType | None, name: str | None) -> str:
    kind = sub_type.value if sub_type else operation_type.value.lower()
    return f"{kind} {name!r}" if name else f"an unnamed {kind}"


def recorded_error(error_class: type[DurableOperationError], error: ErrorObject | None) -> DurableOperationError:
    error = error or ErrorObject(message="operation failed", type="Unknown")
    return error_class(error.message or "", error.type, error.data, error.stack_trace)
