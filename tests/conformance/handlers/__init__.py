"""Handlers for the conformance requirements, one per requirement id.

Each suite module exposes `HANDLERS: dict[str, Callable[[], Any]]` mapping a
requirement id ("1-11") to a factory returning a fresh `@durable_execution`
handler, so no state leaks from one test to the next.  The handlers follow
each YAML's `handler` / `invocations` text literally and use only the public
API of API.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

HandlerFactory = Callable[[], Any]
Register = Callable[[str], Callable[[HandlerFactory], HandlerFactory]]


def handler_registry() -> tuple[dict[str, HandlerFactory], Register]:
    """A suite's HANDLERS and the `@requirement("4-1")` decorator that fills it."""
    handlers: dict[str, HandlerFactory] = {}

    def requirement(requirement_id: str) -> Callable[[HandlerFactory], HandlerFactory]:
        def register(factory: HandlerFactory) -> HandlerFactory:
            handlers[requirement_id] = factory
            return factory

        return register

    return handlers, requirement


ALL_FIELDS = ("completionReason", "status", "successCount", "failureCount", "totalCount")


def batch_projection(batch: Any, *fields: str) -> dict[str, Any]:
    """The projections map/parallel requirements return, built from a BatchResult."""
    every = {
        "completionReason": batch.completion_reason.value,
        "status": batch.status.value,
        "successCount": batch.success_count,
        "failureCount": batch.failure_count,
        "totalCount": batch.total_count,
    }
    return {field: every[field] for field in fields}


def handler_factory(suite: str, requirement_id: str) -> HandlerFactory:
    """The factory for `suite/requirement_id`; imported lazily so a broken engine fails per test."""
    module = importlib.import_module(f"{__name__}.{suite}")
    handlers: dict[str, HandlerFactory] = module.HANDLERS
    try:
        return handlers[requirement_id]
    except KeyError:
        raise LookupError(f"no handler written for requirement {suite}/{requirement_id}") from None


def invoke_targets(suite: str) -> dict[str, Any]:
    """The functions a suite's handlers may `context.invoke` (only the invoke suite has any)."""
    if suite != "invoke":
        return {}
    return dict(importlib.import_module(f"{__name__}.invoke").TARGETS)
