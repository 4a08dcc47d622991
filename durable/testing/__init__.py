"""Run durable functions locally in tests (mirrors the AWS testing library; see `durable.testing.runner`)."""

from durable import __version__
from durable.testing.runner import (
    CallbackOperation,
    ContextOperation,
    DurableChildContextTestRunner,
    DurableFunctionCloudTestRunner,
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
    InvocationRecord,
    InvokeOperation,
    LogEntry,
    Operation,
    StepOperation,
    WaitOperation,
    WebRunner,
    WebRunnerConfig,
)

__all__ = [
    "CallbackOperation",
    "ContextOperation",
    "DurableChildContextTestRunner",
    "DurableFunctionCloudTestRunner",
    "DurableFunctionTestResult",
    "DurableFunctionTestRunner",
    "InvocationRecord",
    "InvokeOperation",
    "LogEntry",
    "Operation",
    "StepOperation",
    "WaitOperation",
    "WebRunner",
    "WebRunnerConfig",
    "__version__",
]
