"""Catch a StepError in the handler and compensate."""

from typing import Any

from durable.config import StepConfig
from durable.context import DurableContext, StepContext
from durable.exceptions import (
    DurableOperationError,
    StepError,
)
from durable.execution import durable_execution
from durable.retries import RetryPresets


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    def fail(_step_context: StepContext) -> None:
        raise KeyError("inventory-42")

    try:
        context.step(fail, name="allocate", config=StepConfig(retry_strategy=RetryPresets.none()))
    except StepError as e:
        refund = context.step(lambda _: "refunded", name="compensate")
        return {
            "is_durable_operation_error": isinstance(e, DurableOperationError),
            "message": e.message,
            "str": str(e),
            "error_type": e.error_type,
            "data": e.data,
            "stack_trace": e.stack_trace,
            "cause_type": type(e.__cause__).__name__,
            "compensation": refund,
        }
    return {}
