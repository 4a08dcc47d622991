"""At-most-once step semantics: StepSemantics.AT_MOST_ONCE_PER_RETRY."""

from typing import Any

from durable.config import StepConfig, StepSemantics
from durable.context import DurableContext, StepContext
from durable.execution import durable_execution
from durable.retries import RetryPresets


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    def send_email(step_context: StepContext) -> str:
        if event.get("fail"):
            raise RuntimeError("smtp unavailable")
        return f"sent on attempt {step_context.attempt}"

    at_most_once = StepConfig(
        step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
        retry_strategy=RetryPresets.none(),
    )
    at_least_once = StepConfig(step_semantics=StepSemantics.AT_LEAST_ONCE_PER_RETRY)
    sent = context.step(send_email, name="send_email", config=at_most_once)
    logged = context.step(lambda _: "logged", name="audit", config=at_least_once)
    return {"sent": sent, "logged": logged}
