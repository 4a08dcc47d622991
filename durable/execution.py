"""@durable_execution: the handler entry point, and what one invocation of it does.

An invocation runs the handler from the top with a root DurableContext.
Operations already checkpointed return their recorded outcome; new ones run.
It ends SUCCEEDED (the return value, as JSON), FAILED (the escaping error) or
PENDING (an operation raised SuspendExecution: everything left waits on a
timer or an outside event).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from actors.messages import InvocationOutcome
from durable.context import DurableContext
from durable.core.records import ErrorObject, InvocationStatus
from durable.exceptions import CheckpointRejectedError, SerDesError, SuspendExecution
from durable.invocation import Invocation
from durable.stores.base import ExecutionRecord

__all__ = ["DurableHandler", "FunctionContext", "InvocationStatus", "durable_execution"]

R = TypeVar("R")


class DurableHandler(Generic[R]):
    """A user function `handler(event, context)` made durable."""

    def __init__(self, func: Callable[[Any, DurableContext], R]) -> None:
        self.func = func
        self.name = getattr(func, "__name__", "handler")
        functools.update_wrapper(self, func)

    def __call__(self, event: Any, context: DurableContext) -> R:
        return self.func(event, context)

    def invoke(self, invocation: Invocation, input_payload: str | None, started: float) -> InvocationOutcome:
        """Run one invocation and say how it ended; never raises for user errors."""
        event = decode_input(input_payload)
        context = DurableContext(invocation)
        try:
            value = self.func(event, context)
        except SuspendExecution:
            return InvocationOutcome(InvocationStatus.PENDING.value, started=started)
        except CheckpointRejectedError:
            raise
        except Exception as error:
            return InvocationOutcome(
                InvocationStatus.FAILED.value, error=ErrorObject.from_exception(error), started=started
            )
        return _returned(value, started)


@attrs.frozen(slots=True)
class FunctionContext:
    """What a plain (not durable) function invoked with `context.invoke` gets as its context."""

    function_name: str
    execution_id: str
    tenant_id: str | None = None


def run_plain_function(func: Callable[[Any, Any], Any], record: ExecutionRecord, started: float) -> InvocationOutcome:
    """Run a plain `handler(event, context)` once: its return value or its error is the outcome."""
    context = FunctionContext(record.function_name, record.execution_id, record.tenant_id)
    try:
        value = func(decode_input(record.input), context)
    except Exception as error:
        return InvocationOutcome(
            InvocationStatus.FAILED.value, error=ErrorObject.from_exception(error), started=started
        )
    return _returned(value, started)


def _returned(value: Any, started: float) -> InvocationOutcome:
    try:
        payload = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        failure = SerDesError(f"the handler's result, a {type(value).__name__}, is not JSON: {error}")
        return InvocationOutcome(
            InvocationStatus.FAILED.value, error=ErrorObject.from_exception(failure), started=started
        )
    return InvocationOutcome(InvocationStatus.SUCCEEDED.value, result=payload, started=started)


def decode_input(payload: str | None) -> Any:
    """An execution's input: JSON, or the text itself when a custom invoke serializer wrote something else."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def durable_execution(func: Callable[[Any, DurableContext], R]) -> DurableHandler[R]:
    """Mark `handler(event, context)` as a durable execution's entry point."""
    if isinstance(func, DurableHandler):
        return func
    return DurableHandler(func)
