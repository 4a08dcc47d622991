"""Handlers for the parallel requirements (8-x), one per requirement id."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from durable import DurableContext, durable_execution
from durable.concurrency.models import BatchResult
from durable.config import CompletionConfig, Duration, NestingType, ParallelBranch, ParallelConfig
from durable.serdes import SerDes, SerDesContext

from . import ALL_FIELDS, batch_projection

SEQUENTIAL = ParallelConfig(max_concurrency=1)



def _parallel_handler(
    branches: Sequence[Any],
    config: ParallelConfig = SEQUENTIAL,
    name: str | None = "parallel",
    finish: Callable[[BatchResult[Any]], Any] = lambda batch: batch.get_results(),
) -> Callable[[], Any]:
    def factory() -> Any:
        @durable_execution
        def handler(event: Any, context: DurableContext) -> Any:
            return finish(context.parallel(list(branches), name=name, config=config))

        return handler

    return factory


def _invalid_concurrency() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.parallel([_returns("a"), _returns("b")], name="bad-concurrency",
                                config=ParallelConfig(max_concurrency=0)).get_results()

    return handler


def _returns(value: Any) -> Callable[[DurableContext], Any]:
    return lambda context: value


def _step_returns(value: Any) -> Callable[[DurableContext], Any]:
    return lambda context: context.step(lambda _: value)


def _fails(index: int) -> Callable[[DurableContext], Any]:
    def branch(context: DurableContext) -> Any:
        raise RuntimeError(f"branch {index} failed")

    return branch


def _tolerating(**completion: Any) -> ParallelConfig:
    return ParallelConfig(max_concurrency=1, completion_config=CompletionConfig(**completion))


def _rethrow(batch: BatchResult[Any]) -> Any:
    batch.throw_if_error()
    return batch.get_results()


def _waits_then_returns(context: DurableContext) -> str:
    context.wait(Duration.from_seconds(2))
    return "b1"


class _WrappedSerDes(SerDes):
    """Checkpoints v as {"wrapped": v} and reads it back as v."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps({"wrapped": value})

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json.loads(data)["wrapped"]


def _nested(context: DurableContext) -> Any:
    inner = context.parallel([_step_returns("i1"), _step_returns("i2")], name="inner", config=SEQUENTIAL)
    return inner.get_results()


def _accessors(batch: BatchResult[Any]) -> dict[str, Any]:
    return {
        "hasFailure": batch.has_failure,
        "successCount": len(batch.succeeded()),
        "failureCount": len(batch.failed()),
        "errorCount": len(batch.get_errors()),
    }


HANDLERS: dict[str, Callable[[], Any]] = {
    "8-1": _parallel_handler([_step_returns("task-1"), _step_returns("task-2")]),
    "8-2": _parallel_handler([_returns("alpha"), _returns("beta")], name=None),
    "8-3": _parallel_handler([ParallelBranch(_returns("one"), "first"), ParallelBranch(_returns("two"), "second")]),
    "8-4": _parallel_handler([_returns("hello"), _returns(42), _returns({"k": "v"})]),
    "8-5": _parallel_handler([]),
    "8-6": _parallel_handler(
        [_returns("ok"), _fails(1), _returns("never")], _tolerating(tolerated_failure_count=0),
        finish=lambda b: batch_projection(b, *ALL_FIELDS),
    ),
    "8-7": _parallel_handler([_fails(0), _returns("never")], _tolerating(tolerated_failure_count=0), finish=_rethrow),
    "8-8": _parallel_handler(
        [_returns(f"r{i}") for i in range(4)], _tolerating(min_successful=2),
        finish=lambda b: batch_projection(b, "completionReason", "successCount", "totalCount"),
    ),
    "8-9": _parallel_handler(
        [_returns("r0"), _fails(1), _returns("r2")], _tolerating(tolerated_failure_count=1),
        finish=lambda b: batch_projection(b, *ALL_FIELDS),
    ),
    "8-10": _parallel_handler(
        [_fails(0), _fails(1), _returns("never")], _tolerating(tolerated_failure_count=1),
        finish=lambda b: batch_projection(b, "completionReason", "successCount", "failureCount", "totalCount"),
    ),
    "8-11": _parallel_handler([_returns("r0"), _returns("r1"), _returns("r2")], ParallelConfig(max_concurrency=2)),
    "8-12": _parallel_handler(
        [_step_returns("fa"), _step_returns("fb")], ParallelConfig(max_concurrency=1, nesting_type=NestingType.FLAT),
    ),
    "8-13": _parallel_handler(
        [_fails(0), _fails(1), _returns("r2"), _returns("r3")], _tolerating(tolerated_failure_percentage=25),
        finish=lambda b: batch_projection(b, "completionReason", "successCount", "failureCount", "totalCount"),
    ),
    "8-14": _parallel_handler([_step_returns("b0"), _waits_then_returns]),
    "8-15": _parallel_handler(
        [_returns("x"), _returns("y")], ParallelConfig(max_concurrency=1, item_serdes=_WrappedSerDes())
    ),
    "8-16": _parallel_handler(
        [_fails(0), _fails(1), _fails(2)], _tolerating(tolerated_failure_count=3),
        finish=lambda b: batch_projection(b, *ALL_FIELDS),
    ),
    "8-17": _parallel_handler(
        [_returns("r0"), _fails(1), _returns("r2")], _tolerating(min_successful=3),
        finish=lambda b: batch_projection(b, *ALL_FIELDS),
    ),
    "8-18": _parallel_handler(
        [_fails(0), _fails(1), _returns("r2"), _returns("r3")],
        _tolerating(min_successful=3, tolerated_failure_count=1),
        finish=lambda b: batch_projection(b, "completionReason", "successCount", "failureCount", "totalCount"),
    ),
    "8-19": _invalid_concurrency,
    "8-20": _parallel_handler(
        [_returns("r0"), _fails(1), _returns("r2")], _tolerating(tolerated_failure_count=1), finish=_accessors,
    ),
    "8-21": _parallel_handler([_nested], name="outer"),
    "8-22": _parallel_handler(
        [_fails(0), _returns("r1"), _returns("r2"), _returns("r3")], _tolerating(tolerated_failure_percentage=25),
        finish=lambda b: batch_projection(b, *ALL_FIELDS),
    ),
}
