"""@durable_step with positional and keyword arguments, and step results of many shapes."""

from typing import Any

from durable.context import (
    DurableContext,
    StepContext,
    durable_step,
)
from durable.execution import durable_execution


@durable_step
def fetch_user(_step_context: StepContext, user_id: str, *, active: bool = True) -> dict:
    return {"id": user_id, "active": active, "roles": ["reader", "writer"]}


@durable_step
def count_roles(_step_context: StepContext, user: dict) -> int:
    return len(user["roles"])


@durable_step
def describe(_step_context: StepContext, user: dict, roles: int) -> str:
    return f"{user['id']} has {roles} roles"


@durable_execution
def handler(event: Any, context: DurableContext) -> dict[str, Any]:
    user = context.step(fetch_user(event["user_id"], active=False))
    roles = context.step(count_roles(user))
    # An explicit name wins over the function name.
    text = context.step(describe(user, roles), name="describe_user")
    return {"user": user, "roles": roles, "text": text}
