"""Validation of wait durations: below one second is rejected before any checkpoint."""

from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.exceptions import ValidationError
from durable.execution import durable_execution


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    event = event or {}
    errors = {}
    try:
        Duration(seconds=-1)
    except ValidationError as e:
        errors["negative"] = str(e)
    try:
        context.wait(Duration.from_seconds(0.5), name="too_short")
    except ValidationError as e:
        errors["too_short"] = str(e)
    if event.get("raise"):
        context.wait(Duration(), name="zero")
    return errors
