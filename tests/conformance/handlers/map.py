"""Handlers for the map requirements (9-x), one per requirement id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from durable import DurableContext, durable_execution
from durable.concurrency.models import BatchItem, BatchItemStatus, BatchResult, CompletionReason
from durable.config import CompletionConfig, Duration, MapConfig, NestingType
from durable.serdes import SerDes, SerDesContext

from . import ALL_FIELDS, batch_projection

SEQUENTIAL: MapConfig[Any] = MapConfig(max_concurrency=1)



def _map_handler(
    items: list[Any] | None, func: Callable[..., Any], config: MapConfig[Any] = SEQUENTIAL, name: str | None = "map",
    finish: Callable[[BatchResult[Any], DurableContext], Any] = lambda batch, _context: batch.get_results(),
) -> Callable[[], Any]:
    """A handler mapping `func` over `items` (the input when None), finished by `finish`."""

    def factory() -> Any:
        @durable_execution
        def handler(event: Any, context: DurableContext) -> Any:
            batch = context.map(event if items is None else items, func, name=name, config=config)
            return finish(batch, context)

        return handler

    return factory


def _greet(context: DurableContext, item: str, index: int, items: Any) -> str:
    return context.step(lambda _: f"Hello, {item}!")


def _fails_on(*failing: int) -> Callable[..., str]:
    def item(context: DurableContext, value: Any, index: int, items: Any) -> str:
        if index in failing:
            raise RuntimeError(f"item {index} failed")
        return "ok"

    return item


def _wait_then(finish: Callable[[BatchResult[Any]], Any]) -> Callable[[BatchResult[Any], DurableContext], Any]:
    def after(batch: BatchResult[Any], context: DurableContext) -> Any:
        context.wait(Duration.from_seconds(1))
        return finish(batch)

    return after


def _rethrow(batch: BatchResult[Any], context: DurableContext) -> Any:
    batch.throw_if_error()
    return batch.get_results()


def _fail_fast() -> MapConfig[Any]:
    return MapConfig(max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=0))


class _UpperCaseItemSerDes(SerDes):
    """A real per-item codec: stores `wrapped:<value>` and strips it when read back."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return f"wrapped:{value}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data.removeprefix("wrapped:")


class _OperationSerDes(SerDes):
    """The whole batch as `OPSERDE:` + comma-joined results, and back to a BatchResult.

    Items use it too (a map's `item_serdes` defaults to its `serdes`): they are written as JSON.
    """

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        if not isinstance(value, BatchResult):
            return json.dumps(value)
        return "OPSERDE:" + ",".join(str(result) for result in value.get_results())

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        if not data.startswith("OPSERDE:"):
            return json.loads(data)
        results = data.removeprefix("OPSERDE:").split(",") if data != "OPSERDE:" else []
        items = [BatchItem(i, BatchItemStatus.SUCCEEDED, r) for i, r in enumerate(results)]
        return BatchResult(items, CompletionReason.ALL_COMPLETED)


def _second_item_waits(context: DurableContext, item: int, index: int, items: Any) -> str:
    if index == 1:
        context.wait(Duration.from_seconds(1))
    return context.step(lambda _: f"r{index}")


def _upper(context: DurableContext, item: str, index: int, items: Any) -> str:
    return item.upper()


HANDLERS: dict[str, Callable[[], Any]] = {
    "9-1": _map_handler(None, _greet),
    "9-2": _map_handler(None, lambda ctx, item, index, items: item * 2, name=None),
    "9-3": _map_handler(None, lambda ctx, item, index, items: item + index),
    "9-4": _map_handler(None, _greet, name="empty"),
    "9-5": _map_handler(
        [0, 1, 2], _fails_on(1), _fail_fast(),
        finish=lambda b, _: batch_projection(b, *ALL_FIELDS),
    ),
    "9-6": _map_handler([0, 1], _fails_on(0), _fail_fast(), finish=_rethrow),
    "9-7": _map_handler(
        [0, 1, 2, 3], lambda ctx, item, index, items: f"r{index}",
        MapConfig(max_concurrency=1, completion_config=CompletionConfig(min_successful=2)), name="min-successful",
        finish=lambda b, _: batch_projection(b, "completionReason", "successCount", "totalCount"),
    ),
    "9-8": _map_handler(
        [0, 1, 2], _fails_on(1),
        MapConfig(max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=1)), name="tolerated",
        finish=lambda b, _: batch_projection(b, *ALL_FIELDS),
    ),
    "9-9": _map_handler(
        [0, 1, 2], _fails_on(0, 1, 2),
        MapConfig(max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=1)),
        finish=lambda b, _: batch_projection(b, "completionReason", "successCount", "failureCount", "totalCount"),
    ),
    "9-10": _map_handler(
        [0, 1, 2, 3], _fails_on(0, 1, 2, 3),
        MapConfig(max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_percentage=25)),
        finish=lambda b, _: batch_projection(b, "completionReason", "successCount", "failureCount", "totalCount"),
    ),
    "9-11": _map_handler([0, 1, 2], lambda ctx, item, index, items: f"r{index}", MapConfig(max_concurrency=2)),
    "9-12": _map_handler(
        ["fa", "fb"], lambda ctx, item, index, items: ctx.step(lambda _: item),
        MapConfig(max_concurrency=1, nesting_type=NestingType.FLAT), name="flat",
    ),
    "9-13": _map_handler(
        None, lambda ctx, item, index, items: item * 10,
        MapConfig(max_concurrency=1, item_namer=lambda item, index: f"item-{item}"), name="named-items",
    ),
    "9-14": _map_handler(["x", "y"], _upper, MapConfig(max_concurrency=1, item_serdes=_UpperCaseItemSerDes())),
    "9-15": _map_handler([0, 1], _second_item_waits),
    "9-16": _map_handler(
        [0, 1, 2, 3], lambda ctx, item, index, items: chr(ord("a") + index) * 70_000,
        finish=lambda b, _: batch_projection(b, "successCount", "totalCount"),
    ),
    "9-17": _map_handler(["a", "b"], _upper, finish=_wait_then(lambda b: b.get_results())),
    "9-18": _map_handler(
        [0, 1], _fails_on(1),
        MapConfig(max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=1)),
        finish=_wait_then(
            lambda b: batch_projection(b, *ALL_FIELDS)
        ),
    ),
    "9-19": _map_handler(["x", "y"], _upper, MapConfig(max_concurrency=1, serdes=_OperationSerDes())),
    "9-20": _map_handler(
        ["x", "y"], _upper, MapConfig(max_concurrency=1, serdes=_OperationSerDes()),
        finish=_wait_then(lambda b: b.get_results()),
    ),
}
