"""The AWS SDK's `lambda_service` names: operation enums, `ErrorObject`, `InvocationStatus`."""

from durable.core.records import (
    ErrorObject,
    InvocationStatus,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)

__all__ = [
    "ErrorObject",
    "InvocationStatus",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
]
