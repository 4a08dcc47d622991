"""ConcurrentExecutor: a map's items or a parallel's branches, run as child contexts by a BatchParent actor.

The caller's thread builds the executables and hands a BatchParent actor a
way to run branch `i` (`actors/batch.py`); the actor owns the branch table,
the in-flight count (suspended branches included) and the completion policy,
and answers with a BatchResult, or BatchSuspended when nothing can run (the
invocation then suspends; the next one re-admits started branches first).
Each branch runs as a child context named `<prefix><index>` unless the item
namer or the ParallelBranch gives a name, with sub-type MapIteration or
ParallelBranch, serialized with `item_serdes or serdes`; FLAT nesting runs
branches in virtual contexts that checkpoint nothing of their own.

Replaying a batch whose result was too large to checkpoint rebuilds it from
the summary envelope (why it ended, which branches had started) and the
branches' own checkpoints.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, Protocol, TypeVar

import pykka

from actors.batch import BatchParent, BatchSpec
from actors.messages import BatchSuspended, RecordsUnder
from durable.concurrency.models import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionPolicy,
    CompletionRecord,
    Executable,
    branch_error_object,
)
from durable.config import ChildConfig, CompletionConfig, NestingType
from durable.core.records import OperationRecord, OperationStatus, OperationSubType
from durable.exceptions import suspend
from durable.identifier import OperationIdentifier, OperationIdNamespace
from durable.invocation import Invocation
from durable.operation.child import child_handler
from durable.serdes import SerDes

ResultType = TypeVar("ResultType")


class BranchContexts(Protocol):
    """What the executor needs of the batch's context: a child context per branch."""

    def create_child_context(self, operation_id: str, *, is_virtual: bool = False) -> Any: ...


class ConcurrentExecutor(Generic[ResultType]):
    def __init__(
        self,
        executables: list[Executable[Any]],
        max_concurrency: int | None,
        completion_config: CompletionConfig | None,
        sub_type_top: OperationSubType,
        sub_type_iteration: OperationSubType,
        name_prefix: str,
        serdes: SerDes | None,
        operation_id_namespace: OperationIdNamespace,
        item_serdes: SerDes | None = None,
        nesting_type: NestingType = NestingType.NESTED,
    ) -> None:
        self.executables = executables
        self.max_concurrency = max_concurrency
        self.completion_config = completion_config
        self.sub_type_top = sub_type_top
        self.sub_type_iteration = sub_type_iteration
        self.name_prefix = name_prefix
        self.serdes = serdes
        self.item_serdes = item_serdes
        self.operation_id_namespace = operation_id_namespace
        self.nesting_type = nesting_type
        self.policy = CompletionPolicy.from_config(len(executables), completion_config)
        #: every branch's child context config (frozen: made once, not on every resume)
        self.branch_config: ChildConfig[ResultType] = ChildConfig(
            serdes=item_serdes or serdes, sub_type=sub_type_iteration,
            is_virtual=nesting_type is NestingType.FLAT,
        )

    def get_iteration_name(self, index: int) -> str:
        name = self.executables[index].name
        return name if name is not None else f"{self.name_prefix}{index}"

    def branch_id(self, index: int) -> str:
        return self.operation_id_namespace.create_id_for_step(index + 1)

    def execute(
        self, invocation: Invocation, executor_context: BranchContexts, new: bool = False
    ) -> BatchResult[ResultType]:
        """Run every branch under the completion policy; suspend the invocation when nothing can run.

        `new`: the batch had no record when its operation began (see BatchSpec.new_batch)."""
        if not self.executables:
            return BatchResult([], self.policy.reason(0, 0))
        started_before = tuple(
            index for index in range(len(self.executables)) if self.branch_id(index) in invocation.snapshot
        )
        settled = frozenset(
            index for index in started_before
            if self.nesting_type is not NestingType.FLAT
            and _final(invocation.snapshot.get(self.branch_id(index)))
        )
        label = f"{self.sub_type_top.value} {self.operation_id_namespace.prefix}"
        spec = BatchSpec(
            name=label,
            count=len(self.executables),
            run_branch=functools.partial(self._run_branch, invocation, executor_context),
            max_concurrency=self.max_concurrency,
            completion=self.policy,
            started_before=started_before,
            prefix=self.operation_id_namespace.prefix,
            settled_before=settled,
            new_batch=new,
        )
        outcome = _coordinate(invocation, spec)
        if isinstance(outcome, BatchSuspended):
            raise suspend(f"{label}: all concurrent work complete or suspended", outcome.resume_at)
        return outcome

    def _run_branch(
        self, invocation: Invocation, executor_context: BranchContexts, index: int, view: RecordsUnder | None = None
    ) -> ResultType:
        """Branch `index` from its start, replaying from `view` when one is given; a suspension unwinds
        through here, so the branch's layers are calls made from this one frame (partials, not lambdas)."""
        if view is not None:
            invocation.replay_from(view)
        try:
            executable = self.executables[index]
            operation_id = self.branch_id(index)
            is_virtual = self.nesting_type is NestingType.FLAT
            branch_context = executor_context.create_child_context(operation_id, is_virtual=is_virtual)
            identifier = OperationIdentifier(
                operation_id, self.sub_type_iteration, _parent_of(executor_context), self.get_iteration_name(index)
            )
            return child_handler(
                functools.partial(executable.func, branch_context), invocation, identifier, self.branch_config
            )
        finally:
            if view is not None:
                invocation.forget_view()

    def replay(
        self, invocation: Invocation, executor_context: BranchContexts, record: OperationRecord | None
    ) -> BatchResult[ResultType]:
        """Rebuild the result of a batch that ended with a summary instead of its full result."""
        summary = CompletionRecord.from_summary_payload(record.result if record else None)
        items: list[BatchItem[ResultType]] = []
        for executable in self.executables:
            index = executable.index
            if summary is not None and index >= summary.started_total:
                continue
            if summary is not None and index in summary.started_indexes:
                items.append(BatchItem(index, BatchItemStatus.STARTED))
                continue
            items.append(self._replay_item(invocation, executor_context, index, summary is None))
        if summary is None:
            return BatchResult.from_items(items, self.completion_config)
        return BatchResult(items, summary.completion_reason)

    def _replay_item(
        self, invocation: Invocation, executor_context: BranchContexts, index: int, everything: bool
    ) -> BatchItem[ResultType]:
        branch = invocation.lookup(self.branch_id(index))
        if branch is not None and branch.status is OperationStatus.SUCCEEDED:
            return BatchItem(index, BatchItemStatus.SUCCEEDED, self._run_branch(invocation, executor_context, index))
        if branch is not None and branch.status is OperationStatus.FAILED:
            return BatchItem(index, BatchItemStatus.FAILED, error=branch.error)
        if self.nesting_type is NestingType.FLAT and not everything:
            try:
                result = self._run_branch(invocation, executor_context, index)
            except Exception as error:
                return BatchItem(index, BatchItemStatus.FAILED, error=branch_error_object(error))
            return BatchItem(index, BatchItemStatus.SUCCEEDED, result)
        return BatchItem(index, BatchItemStatus.STARTED)


def _final(record: OperationRecord | None) -> bool:
    """A branch record whose replay returns its result or raises its error without running the branch."""
    if record is None:
        return False
    if record.status is OperationStatus.SUCCEEDED:
        return not record.replay_children
    return record.status is OperationStatus.FAILED


def _parent_of(context: Any) -> str | None:
    return getattr(context, "parent_id", None)


def _coordinate(invocation: Invocation, spec: BatchSpec) -> Any:
    """Run the batch on a BatchParent actor and wait for its answer."""
    invocation.forget_view()
    engine = invocation.engine
    future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    parent = BatchParent.start(
        invocation.topology, spec, engine.branch_pool, invocation.state, engine.subscribe_ticks, future,
        invocation.clock, invocation.started, invocation.deadline, invocation.state.actor_urn,
    )
    try:
        with engine.branch_pool.stand_in():  # a branch running a nested batch holds its pool thread meanwhile
            return future.get()
    finally:
        parent.stop(block=False)
