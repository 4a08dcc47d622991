"""Steps from lambdas with explicit names, and an unnamed step."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict[str, Any]:
    first = context.step(lambda _: 10, name="first_step")
    second = context.step(lambda _: first * 2, name="second_step")
    # No name: a lambda has no _original_name, so the operation stays unnamed.
    third = context.step(lambda _: second + 1)
    return {"first": first, "second": second, "third": third}
