"""A failing branch with the default (all successful) rule; the handler re-raises with throw_if_error."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


def ok_branch(ctx: DurableContext) -> str:
    return ctx.step(lambda _: "fine", name="ok")


def bad_branch(ctx: DurableContext) -> str:
    def explode(_):
        raise ArithmeticError("division went wrong")

    return ctx.step(explode, name="explode")


@durable_execution
def handler(_event: Any, context: DurableContext) -> list[str]:
    result = context.parallel([ok_branch, bad_branch], name="risky_parallel")
    result.throw_if_error()
    return result.get_results()
