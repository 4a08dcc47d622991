"""Run durable functions locally in tests (mirrors the AWS testing library)."""

from durable.testing.runner import (
    CallbackOperation,
    ContextOperation,
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
    InvocationRecord,
    InvokeOperation,
    LogEntry,
    Operation,
    StepOperation,
    WaitOperation,
)

__all__ = [
    "CallbackOperation",
    "ContextOperation",
    "DurableFunctionTestResult",
    "DurableFunctionTestRunner",
    "InvocationRecord",
    "InvokeOperation",
    "LogEntry",
    "Operation",
    "StepOperation",
    "WaitOperation",
]
