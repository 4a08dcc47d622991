"""context.map: `func(context, item, index, items)` for every item, each in its own child context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from durable.concurrency.executor import BranchContexts, ConcurrentExecutor
from durable.concurrency.models import BatchResult, Executable
from durable.config import MapConfig
from durable.core.records import OperationRecord, OperationStatus, OperationSubType
from durable.identifier import OperationIdNamespace
from durable.invocation import Invocation

T = TypeVar("T")
R = TypeVar("R")


class MapExecutor(ConcurrentExecutor[R]):
    @classmethod
    def from_items(
        cls,
        items: Sequence[T],
        func: Callable[..., R],
        config: MapConfig[T],
        operation_id_namespace: OperationIdNamespace,
    ) -> MapExecutor[R]:
        def bind(index: int, item: T) -> Callable[[Any], R]:
            return lambda child_context: func(child_context, item, index, items)

        executables = [
            Executable(index, bind(index, item), config.item_namer(item, index) if config.item_namer else None)
            for index, item in enumerate(items)
        ]
        return cls(
            executables, config.max_concurrency, config.completion_config, OperationSubType.MAP,
            OperationSubType.MAP_ITERATION, "map-item-", config.serdes, operation_id_namespace, config.item_serdes,
            config.nesting_type,
        )


def map_handler(
    items: Sequence[T],
    func: Callable[..., R],
    config: MapConfig[T] | None,
    invocation: Invocation,
    map_context: BranchContexts,
    record: OperationRecord | None,
    operation_id_namespace: OperationIdNamespace,
    new: bool = False,
) -> BatchResult[R]:
    executor: MapExecutor[R] = MapExecutor.from_items(items, func, config or MapConfig(), operation_id_namespace)
    if record is not None and record.status is OperationStatus.SUCCEEDED:
        return executor.replay(invocation, map_context, record)
    return executor.execute(invocation, map_context, new)
