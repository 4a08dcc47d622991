"""What a handler can read about its run: the Lambda context and the execution ARN."""

from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    arn = context.execution_context.durable_execution_arn
    return {
        "has_arn": bool(arn),
        "arn_in_step": context.step(lambda _: arn, name="record_arn") == arn,
        "request_id": context.lambda_context.aws_request_id if context.lambda_context else None,
        "is_replaying": context.is_replaying(),
    }
