"""Hello, durable: one step, checkpointed.

    durable run examples.hello:handler --input '"World"'
"""

from __future__ import annotations

from durable import DurableContext, StepContext, durable_execution, durable_step


@durable_step
def greet(step_context: StepContext, name: str) -> str:
    return f"Hello, {name}!"


@durable_execution
def handler(event: str, context: DurableContext) -> str:
    return context.step(greet(event))
