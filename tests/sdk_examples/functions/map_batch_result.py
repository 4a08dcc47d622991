"""Working with BatchResult: succeeded(), failed(), get_errors(), throw_if_error()."""

from collections.abc import Sequence
from typing import Any

from durable.concurrency.models import (
    BatchItemStatus,
    BatchResult,
    CompletionReason,
)
from durable.config import CompletionConfig, MapConfig
from durable.context import DurableContext
from durable.exceptions import ChildContextError
from durable.execution import durable_execution


def validate(ctx: DurableContext, record: dict, index: int, records: Sequence[dict]) -> dict:
    if "email" not in record:
        msg = f"record {record['id']} has no email"
        raise LookupError(msg)
    return {"id": record["id"], "email": record["email"].lower()}


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    result: BatchResult[dict] = context.map(
        event["records"],
        validate,
        name="validate_records",
        config=MapConfig(completion_config=CompletionConfig.all_completed()),
    )
    summary = {
        "succeeded": [item.index for item in result.succeeded()],
        "failed": [item.index for item in result.failed()],
        "failed_statuses": [item.status.value for item in result.failed()],
        "error_types": [e.type for e in result.get_errors()],
        "all_completed": result.completion_reason is CompletionReason.ALL_COMPLETED,
        "first_status": result.all[0].status is BatchItemStatus.SUCCEEDED,
        "as_dict_keys": sorted(result.to_dict()),
    }
    try:
        result.throw_if_error()
        summary["thrown"] = None
    except ChildContextError as e:
        summary["thrown"] = {"message": e.message, "error_type": e.error_type}
    return summary
