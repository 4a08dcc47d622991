"""What every operation shares: its checkpoint requests, the recorded record, raising recorded errors."""

from __future__ import annotations

from typing import Any, NoReturn

from durable.core.records import OperationRecord, RecordUpdate
from durable.exceptions import DurableOperationError, NonDeterministicExecutionError
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation


def update(identifier: OperationIdentifier, action: Any, **fields: Any) -> RecordUpdate:
    """A checkpoint request for the operation: `update(identifier, OperationAction.SUCCEED, payload=...)`."""
    return RecordUpdate(
        identifier.operation_id, identifier.type, action, identifier.parent_id, identifier.name,
        identifier.sub_type, **fields,
    )


def recorded(invocation: Invocation, identifier: OperationIdentifier) -> OperationRecord | None:
    """The operation as checkpointed so far, or None; an operation of another kind at this id is an error."""
    record = invocation.lookup(identifier.operation_id, identifier.known_new)
    if record is not None and record.operation_type is not identifier.type:
        raise NonDeterministicExecutionError(
            f"operation {identifier.operation_id}: the handler asked for a {identifier.sub_type.value} "
            f"{identifier.name or ''} but the history has a {record.operation_type.value} there; "
            "the handler is not deterministic".replace("  ", " "),
            identifier.operation_id,
        )
    return record


def raise_operation_error(
    record: OperationRecord, error_cls: type[DurableOperationError], message: str | None = None
) -> NoReturn:
    """Raise the recorded failure as `error_cls` (caused by the error it records), as on the first run."""
    if record.error is None:
        raise error_cls(message=message or "Unknown error. No ErrorObject exists on the Checkpoint Operation.")
    record.error.raise_as_operation_error(error_cls)
