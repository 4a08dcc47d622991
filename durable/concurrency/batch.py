"""context.map and context.parallel, as the handler's thread sees them.

The caller validates everything before anything is checkpointed, starts the
parent CONTEXT operation, and hands a BatchParent actor a way to run branch
`i`.  It then waits for the parent's answer: a BatchResult, checkpointed as
the parent's result (or, past the checkpoint size limit, the summary_generator's
summary, with the branches replayed to rebuild it), or BatchSuspended, which suspends the invocation (the
parent operation stays STARTED; the next invocation replays finished branches
from their checkpoints and re-admits started ones first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pykka

from actors.batch import BatchParent, BatchSpec
from actors.messages import BatchSuspended
from durable.concurrency.models import BatchResult
from durable.config import ChildConfig, CompletionConfig, MapConfig, NestingType, ParallelBranch, ParallelConfig
from durable.core.records import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable.exceptions import SerDesError, SuspendExecution, ValidationError
from durable.operations.base import check_replay, updater
from durable.operations.child import CHECKPOINT_SIZE_LIMIT, run_child_at
from durable.serdes import SerDes, SerDesContext, deserialize, serialize

if TYPE_CHECKING:
    from durable.context import DurableContext

T = TypeVar("T")
U = TypeVar("U")


def run_map(
    context: DurableContext,
    inputs: Sequence[U],
    func: Callable[[DurableContext, U, int, Sequence[U]], T],
    name: str | None,
    config: MapConfig[Any] | None,
) -> BatchResult[T]:
    config = config or MapConfig()
    if isinstance(inputs, (str, bytes, dict)) or not isinstance(inputs, Sequence):
        raise ValidationError(f"map inputs must be a sequence (a list or tuple), got {type(inputs).__name__}")
    if not callable(func):
        raise ValidationError(f"map function must be callable, got {type(func).__name__}")
    items = list(inputs)
    _validate(config.max_concurrency, config.completion_config, len(items), "MapConfig")
    names: list[str | None] = [None] * len(items)
    if config.item_namer is not None:
        names = [config.item_namer(item, index) for index, item in enumerate(items)]

    def branch(index: int) -> Callable[[DurableContext], T]:
        return lambda child: func(child, items[index], index, items)

    return _run_batch(
        context, name, [branch(i) for i in range(len(items))], names, config.max_concurrency,
        config.completion_config, config.serdes, config.item_serdes, config.nesting_type, config.summary_generator,
        OperationSubType.MAP, OperationSubType.MAP_ITERATION,
    )


def run_parallel(
    context: DurableContext,
    functions: Sequence[Callable[[DurableContext], T] | ParallelBranch[T]],
    name: str | None,
    config: ParallelConfig | None,
) -> BatchResult[T]:
    config = config or ParallelConfig()
    if isinstance(functions, (str, bytes, dict)) or not isinstance(functions, Sequence):
        raise ValidationError(f"parallel takes a sequence of branches, got {type(functions).__name__}")
    bodies: list[Callable[[DurableContext], T]] = []
    names: list[str | None] = []
    for index, entry in enumerate(functions):
        body = entry.func if isinstance(entry, ParallelBranch) else entry
        if not callable(body):
            raise ValidationError(f"parallel branch {index} is not callable: {type(body).__name__}")
        bodies.append(body)
        names.append(entry.name if isinstance(entry, ParallelBranch) else getattr(entry, "_durable_branch_name", None))
    _validate(config.max_concurrency, config.completion_config, len(bodies), "ParallelConfig")
    return _run_batch(
        context, name, bodies, names, config.max_concurrency, config.completion_config, config.serdes,
        config.item_serdes, config.nesting_type, config.summary_generator, OperationSubType.PARALLEL,
        OperationSubType.PARALLEL_BRANCH,
    )


def _validate(max_concurrency: int | None, completion: CompletionConfig | None, count: int, where: str) -> None:
    if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
        raise ValidationError(f"{where}.max_concurrency must be at least 1 (or None), got {max_concurrency!r}")
    if completion is not None and completion.min_successful is not None and completion.min_successful > count:
        raise ValidationError(
            f"CompletionConfig.min_successful is {completion.min_successful} but there are only {count} items"
        )


def _run_batch(
    context: DurableContext,
    name: str | None,
    bodies: list[Callable[[DurableContext], T]],
    names: list[str | None],
    max_concurrency: int | None,
    completion: CompletionConfig | None,
    serdes: SerDes | None,
    item_serdes: SerDes | None,
    nesting: NestingType,
    summary_generator: Callable[[Any], str] | None,
    sub_type: OperationSubType,
    item_sub_type: OperationSubType,
) -> BatchResult[T]:
    invocation = context.invocation
    operation_id = context.next_operation_id()
    serdes_context = SerDesContext(operation_id, invocation.execution_arn)
    recorded = check_replay(invocation.lookup(operation_id), operation_id, OperationType.CONTEXT, name, sub_type)
    if recorded is not None and recorded.status is OperationStatus.SUCCEEDED and not recorded.replay_children:
        return deserialize(serdes, recorded.result, serdes_context)

    update = updater(context, operation_id, OperationType.CONTEXT, name, sub_type)

    if recorded is None:
        invocation.checkpoint(update(OperationAction.START), wait=False)
    batch_context = context.child(operation_id)
    item_config: ChildConfig[Any] = ChildConfig(serdes=item_serdes, sub_type=item_sub_type)

    def run_branch(index: int) -> Any:
        branch_id = f"{operation_id}-{index + 1}"
        if nesting is NestingType.FLAT:
            return bodies[index](batch_context.virtual(branch_id))
        return run_child_at(batch_context, branch_id, bodies[index], names[index], item_config)

    started_before = tuple(
        index for index in range(len(bodies)) if invocation.snapshot.get(f"{operation_id}-{index + 1}") is not None
    )
    spec = BatchSpec(
        name=f"{sub_type.value} {name or operation_id}",
        count=len(bodies),
        run_branch=run_branch,
        max_concurrency=max_concurrency,
        completion=completion or CompletionConfig(),
        started_before=started_before,
    )
    outcome = _coordinate(invocation, spec)
    if isinstance(outcome, BatchSuspended):
        raise SuspendExecution(f"{spec.name}: every running branch is waiting", outcome.resume_at)
    result: BatchResult[T] = outcome
    if recorded is not None and recorded.status is OperationStatus.SUCCEEDED:
        return result
    try:
        payload = serialize(serdes, result, serdes_context)
    except SerDesError as error:
        invocation.checkpoint(update(OperationAction.FAIL, error=ErrorObject.from_exception(error)))
        raise
    if payload is not None and len(payload.encode()) > CHECKPOINT_SIZE_LIMIT:
        summary = summary_generator(result) if summary_generator else None
        invocation.checkpoint(update(OperationAction.SUCCEED, replay_children=True, payload=summary))
        return result
    invocation.checkpoint(update(OperationAction.SUCCEED, payload=payload))
    return deserialize(serdes, payload, serdes_context)


def _coordinate(invocation: Any, spec: BatchSpec) -> Any:
    """Run the batch on a BatchParent actor and wait for its answer."""
    engine = invocation.engine
    future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    parent = BatchParent.start(
        invocation.topology, spec, engine.branch_pool, invocation.state, engine.subscribe_ticks, future,
        invocation.state.actor_urn,
    )
    try:
        return future.get()
    finally:
        parent.stop(block=False)
