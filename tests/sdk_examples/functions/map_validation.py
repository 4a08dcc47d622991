"""Invalid map configuration is rejected before the map starts."""

from typing import Any

from durable.config import CompletionConfig, MapConfig
from durable.context import DurableContext
from durable.exceptions import ValidationError
from durable.execution import durable_execution


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    errors = {}
    try:
        MapConfig(max_concurrency=0)
    except ValidationError as e:
        errors["max_concurrency"] = str(e)
    try:
        CompletionConfig(tolerated_failure_percentage=150)
    except ValidationError as e:
        errors["percentage"] = str(e)
    try:
        context.map(
            [1, 2],
            lambda ctx, item, index, items: item,
            name="too_many_required",
            config=MapConfig(completion_config=CompletionConfig(min_successful=3)),
        )
    except ValidationError as e:
        errors["min_successful"] = str(e)
    return errors
