"""context.parallel: every branch function in its own child context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from durable.concurrency.executor import BranchContexts, ConcurrentExecutor
from durable.concurrency.models import BatchResult, Executable
from durable.config import ParallelBranch, ParallelConfig
from durable.core.records import OperationRecord, OperationStatus, OperationSubType
from durable.identifier import OperationIdNamespace
from durable.invocation import Invocation

R = TypeVar("R")


class ParallelExecutor(ConcurrentExecutor[R]):
    @classmethod
    def from_callables(
        cls,
        callables: Sequence[Callable[..., R] | ParallelBranch[R]],
        config: ParallelConfig,
        operation_id_namespace: OperationIdNamespace,
    ) -> ParallelExecutor[R]:
        executables: list[Executable[Any]] = [
            Executable(index, func, func.name if isinstance(func, ParallelBranch) else None)
            for index, func in enumerate(callables)
        ]
        return cls(
            executables, config.max_concurrency, config.completion_config, OperationSubType.PARALLEL,
            OperationSubType.PARALLEL_BRANCH, "parallel-branch-", config.serdes, operation_id_namespace,
            config.item_serdes, config.nesting_type,
        )


def parallel_handler(
    callables: Sequence[Callable[..., R] | ParallelBranch[R]],
    config: ParallelConfig | None,
    invocation: Invocation,
    parallel_context: BranchContexts,
    record: OperationRecord | None,
    operation_id_namespace: OperationIdNamespace,
    new: bool = False,
) -> BatchResult[R]:
    executor: ParallelExecutor[R] = ParallelExecutor.from_callables(
        callables, config or ParallelConfig(), operation_id_namespace
    )
    if record is not None and record.status is OperationStatus.SUCCEEDED:
        return executor.replay(invocation, parallel_context, record)
    return executor.execute(invocation, parallel_context, new)
