"""Approvals collected in parallel: each branch waits for its own callback."""

from typing import Any

from durable.config import ParallelBranch
from durable.context import DurableContext
from durable.execution import durable_execution


def approval_branch(approver: str):
    def branch(ctx: DurableContext) -> str:
        return ctx.wait_for_callback(lambda callback_id, _ctx: None, name=f"{approver}_approval")

    return ParallelBranch(func=branch, name=approver)


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    approvers = event["approvers"]
    result = context.parallel([approval_branch(a) for a in approvers], name="approvals")
    return dict(zip(approvers, result.get_results(), strict=True))
