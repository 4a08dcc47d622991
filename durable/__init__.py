"""Durable executions for Python on actors.

Write an ordinary function `handler(event, context)`, decorate it with
`@durable_execution`, and call operations on the context: `step`, `wait`,
`wait_for_condition`, `create_callback`, `wait_for_callback`, `invoke`,
`run_in_child_context`, `map` and `parallel`.  Every
operation is checkpointed; after a suspension, a timeout or a crash the
runtime re-invokes the handler, which replays from the checkpoints and
continues where it left off.
"""

import logging as _logging

from loguru import logger as _logger

from durable.__about__ import __version__
from durable.concurrency.models import BatchResult
from durable.config import ParallelBranch
from durable.context import (
    DurableContext,
    StepContext,
    durable_parallel_branch,
    durable_step,
    durable_wait_for_callback,
    durable_with_child_context,
)
from durable.exceptions import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableExecutionsError,
    DurableOperationError,
    ExecutionError,
    InvalidStateError,
    InvocationError,
    InvokeError,
    NonDeterministicExecutionError,
    SerDesError,
    StepError,
    StepInterruptedError,
    UnrecoverableError,
    ValidationError,
    WaitForConditionError,
)
from durable.execution import durable_execution
from durable.retries import WithRetryConfig, with_retry

_logger.disable("durable")
_logger.disable("actors")
#: pykka writes a debug record for every actor it starts and stops: internals, quiet like ours unless the
#: program sets the "pykka" logger's level itself (its errors still reach the program's logging)
if _logging.getLogger("pykka").level == _logging.NOTSET:
    _logging.getLogger("pykka").setLevel(_logging.WARNING)

__all__ = [
    "BatchResult",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildContextError",
    "DurableContext",
    "DurableExecutionsError",
    "DurableOperationError",
    "ExecutionError",
    "InvalidStateError",
    "InvocationError",
    "InvokeError",
    "NonDeterministicExecutionError",
    "ParallelBranch",
    "SerDesError",
    "StepContext",
    "StepError",
    "StepInterruptedError",
    "UnrecoverableError",
    "ValidationError",
    "WaitForConditionError",
    "WithRetryConfig",
    "__version__",
    "durable_execution",
    "durable_parallel_branch",
    "durable_step",
    "durable_wait_for_callback",
    "durable_with_child_context",
    "with_retry",
]
