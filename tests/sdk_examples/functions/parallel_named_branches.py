"""Named parallel branches: ParallelBranch(...) and @durable_parallel_branch(name=...)."""

from typing import Any

from durable.config import ParallelBranch
from durable.context import (
    DurableContext,
    durable_parallel_branch,
)
from durable.execution import durable_execution


@durable_parallel_branch(name="fetch-user")
def fetch_user(ctx: DurableContext, user_id: str) -> dict:
    return ctx.step(lambda _: {"id": user_id, "name": "Jane"}, name="load_user")


@durable_parallel_branch(name="fetch-orders")
def fetch_orders(ctx: DurableContext, user_id: str) -> list[str]:
    return ctx.step(lambda _: [f"{user_id}-o1", f"{user_id}-o2"], name="load_orders")


@durable_parallel_branch()
def fetch_unnamed(ctx: DurableContext) -> str:
    return ctx.step(lambda _: "anonymous", name="load_unnamed")


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    user_id = event["user_id"]
    result = context.parallel(
        [
            fetch_user(user_id),
            fetch_orders(user_id),
            ParallelBranch(func=lambda ctx: ctx.step(lambda _: 3, name="load_count"), name="count"),
            fetch_unnamed(),
        ],
        name="load-data",
    )
    user, orders, count, unnamed = result.get_results()
    return {"user": user, "orders": orders, "count": count, "unnamed": unnamed}
