"""BatchParent and Branch: one map or parallel, run as a coordinator and its branches.

BatchParent owns the branch table, the in-flight count and the completion
policy of one map/parallel.  It takes BranchSucceeded, BranchFailed,
BranchSuspended (from its branches), ResumeWave (from its TimerScheduler),
OutsideChange (from the ExecutionState it watches: a callback or chained
invoke a suspended branch waits on has closed, so that branch runs again now;
a branch still running when it closed runs again once it suspends),
BranchRecords then Committed (the wave's one refresh is done; each resuming
branch gets its records with its RunBranch, so its replay asks nothing).  It sends RunBranch
to Branch actors, ScheduleResume to its TimerScheduler, one FireDueTimers per
wave to the ExecutionState, and its outcome (a BatchResult, or BatchSuspended
when nothing can run) to the waiting caller's future.

Invariants:
- in flight = branches started and not terminal, suspended ones included; it
  never exceeds max_concurrency.  A slot frees only on SUCCEEDED or FAILED.
- every branch event changes the counters in exactly one handler; an
  unexpected message fails loudly rather than leave the counters stale.
- a suspended branch holds no thread (Branch is a PooledActor); its timer is
  data in the TimerScheduler, and all branches due at one tick resume after a
  single state refresh.
- the parent has no thread of its own either (a PooledActor on the branches'
  pool, at their depth): outcomes that arrive while a wave runs are booked
  together, after it.
- the invocation suspends only when nothing runs, nothing can be started and
  no branch's timer is due within the hold (`_hold_seconds`).

Branch owns one branch's run: on RunBranch it runs the branch function on a
pool thread, replaying what it already did, and reports the outcome; once
the branch has succeeded or failed it stops itself.  A
branch whose record was already final when the invocation began replays
without user code; the parent replays it itself, with no Branch.  A
branch that raises is a branch failure, never a crash of the parent.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable
from typing import Any

import attrs
import pykka
from loguru import logger

from actors.messages import (
    BatchSuspended,
    BranchFailed,
    BranchFatal,
    BranchRecords,
    BranchSucceeded,
    BranchSuspended,
    Committed,
    FireDueTimers,
    OutsideChange,
    RecordsUnder,
    ResumeWave,
    RunBranch,
    ScheduleResume,
    Watch,
    WaveFired,
)
from actors.pool import ActorPool, PooledActor, stop_quietly
from actors.replies import reject, resolve
from actors.timer_scheduler import TimerScheduler
from actors.topology import Topology
from durable.clock import Clock
from durable.core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionPolicy,
    CompletionReason,
    branch_error_object,
)
from durable.core.operation_ids import branch_index, child_id
from durable.core.records import ErrorObject
from durable.exceptions import OrphanedChildException, SuspendExecution

WAITING, RUNNING, SUSPENDED, SUCCEEDED, FAILED = "waiting", "running", "suspended", "succeeded", "failed"

#: A batch with nothing running keeps its invocation while a branch's timer is due at least this soon, so timers
#: started a few milliseconds apart (a map's next iterations) resume in the invocation the first one
#: starts, not in one each; the execution's alarm is its earliest timer.
GATHER_SECONDS = 0.025


@attrs.frozen(slots=True)
class BatchSpec:
    """What the caller's thread hands the parent: how many branches, how to run one, and the policy."""

    name: str
    count: int
    run_branch: Callable[[int, RecordsUnder | None], Any]
    max_concurrency: int | None
    completion: CompletionPolicy
    started_before: tuple[int, ...] = ()
    #: the batch's operation id (branch i is its (i+1)-th child); None: branches replay by lookups alone
    prefix: str | None = None
    #: branches whose record is already final (their outcome replays without running user code): the
    #: parent replays them itself instead of starting a Branch for each
    settled_before: frozenset[int] = frozenset()
    #: the batch had no record when it began, so nothing is recorded under it (its record comes first,
    #: and the writer commits in order): each branch's first run replays from an empty view, asking the
    #: ExecutionState nothing.  Not so for a batch met again in the same invocation (in a resumed branch),
    #: whose branches may have written since the invocation's snapshot
    new_batch: bool = False


def run_one(index: int, run: Callable[[int, RecordsUnder | None], Any], view: RecordsUnder | None) -> Any:
    """Run branch `index` and say how it went: BranchSucceeded, BranchSuspended, BranchFailed or BranchFatal;
    None when the batch ended while it ran (its next checkpoint was refused as orphaned: it just stops)."""
    try:
        return BranchSucceeded(index, run(index, view))
    except SuspendExecution as suspended:
        return BranchSuspended(index, suspended.resume_at, suspended.waiting_on)
    except OrphanedChildException:
        logger.debug("branch {} stopped: its batch had already completed", index)
        return None
    except Exception as error:
        return BranchFailed(index, branch_error_object(error))
    except BaseException as fatal:
        return BranchFatal(index, fatal)


class Branch(PooledActor):
    def __init__(
        self,
        topology: Topology,
        pool: ActorPool,
        parent: pykka.ActorRef[Any],
        index: int,
        run: Callable[[int, RecordsUnder | None], Any],
        depth: int = 0,
    ) -> None:
        super().__init__(topology, pool, f"branch {index}", parent.actor_urn)
        self.depth = depth
        self.parent = parent
        self.index = index
        self.run = run

    def handle(self, message: Any) -> Any:
        match message:
            case RunBranch(view):
                outcome = run_one(self.index, self.run, view)
                if not isinstance(outcome, BranchSuspended):
                    self.stop()
                if outcome is None:
                    return None
                try:
                    self.send(self.parent, outcome)
                except pykka.ActorDeadError:
                    logger.debug("branch {} finished after its batch completed", self.index)
            case _:
                raise TypeError(f"Branch got an unexpected message {message!r}")
        return None


class BatchParent(PooledActor):
    def __init__(
        self,
        topology: Topology,
        spec: BatchSpec,
        pool: ActorPool,
        state: pykka.ActorRef[Any],
        subscribe_ticks: Callable[[pykka.ActorRef[Any] | None, bool], None],
        reply_to: pykka.Future[Any],
        clock: Clock,
        invocation_started: float | None = None,
        deadline: float | None = None,
        parent: str | None = None,
    ) -> None:
        super().__init__(topology, pool, spec.name, parent)
        #: a batch at operation id 1 is at depth 0, one in its branch (1-2-1) at 2: see PooledActor.depth
        self.depth = 0 if spec.prefix is None else spec.prefix.count("-")
        self.spec = spec
        self.clock = clock
        self.invocation_started = invocation_started
        self.deadline = deadline
        #: how long this invocation took to get here and replay the settled branches (see `_hold_seconds`)
        self.replay_seconds: float | None = None
        self.state = state
        self.subscribe_ticks = subscribe_ticks
        self.reply_to = reply_to
        self.status = [WAITING] * spec.count
        self.results: dict[int, Any] = {}
        self.errors: dict[int, ErrorObject] = {}
        self.resume_at: dict[int, float | None] = {}
        first = [i for i in spec.started_before if 0 <= i < spec.count]
        chosen = set(first)
        self.queue = collections.deque(first + [i for i in range(spec.count) if i not in chosen])
        self.branches: dict[int, pykka.ActorRef[Any]] = {}
        self.timers: pykka.ActorRef[Any] | None = None
        self.in_flight = 0
        self.running = 0
        self.waiting_on: dict[str, int] = {}
        self.changed_while_running: set[int] = set()
        self.views: dict[int, RecordsUnder] = {}
        self.done = False

    def on_start(self) -> None:
        self.send(self.state, Watch(self.actor_ref, True))
        self._advance()

    def handle(self, message: Any) -> Any:
        match message:
            case BranchSuspended():
                # a suspension frees no slot and settles nothing: only whether everything now waits can change
                if self._take(message):
                    self._suspend_if_idle()
                return None
            case BranchSucceeded() | BranchFailed():
                if not self._take(message):
                    return None
            case BranchFatal(_index, error):
                self._fatal(error)
                return None
            case ResumeWave(keys, _now):
                wave = tuple(int(key) for key in keys if self.status[int(key)] == SUSPENDED)
                if wave and not self.done:
                    for index in wave:
                        self._mark_running(index)
                    prefix = self.spec.prefix
                    roots = () if prefix is None else tuple(child_id(prefix, index + 1) for index in wave)
                    self.send(self.state, FireDueTimers(notify=self.actor_ref, tag=WaveFired(wave), views_of=roots))
                return None
            case BranchRecords(WaveFired(wave), views):
                self.views.update(zip(wave, views, strict=True))
                return None
            case Committed(WaveFired(wave), _result):
                for index in wave:
                    self.send(self.branches[index], RunBranch(self.views.pop(index, None)))
                return None
            case OutsideChange(_execution_id, operations, _wake):
                for op in operations:
                    self._outside_change(op.operation_id)
                return None
            case _:
                raise TypeError(f"BatchParent got an unexpected message {message!r}")
        self._advance()
        return None

    def _take(self, outcome: BranchSucceeded | BranchFailed | BranchSuspended) -> bool:
        """Book a branch's outcome; False when the branch runs again instead (it changed while running)."""
        match outcome:
            case BranchSucceeded(index, result):
                self._settle(index, SUCCEEDED)
                self.results[index] = result
            case BranchFailed(index, error):
                self._settle(index, FAILED)
                self.errors[index] = error
            case BranchSuspended(index, resume_at, waiting_on):
                if index in self.changed_while_running:
                    self.changed_while_running.discard(index)
                    if not self.done:
                        self.send(self.branches[index], RunBranch())
                        return False
                self.status[index] = SUSPENDED
                self.running -= 1
                self.resume_at[index] = resume_at
                if waiting_on is not None:
                    self.waiting_on[waiting_on] = index
                if resume_at is not None and not self.done:
                    self._timers().tell(ScheduleResume(str(index), resume_at))
        return True

    def _outside_change(self, operation_id: str) -> None:
        """Re-run the branch that waits on `operation_id`; one still running re-runs when it suspends."""
        index = self.waiting_on.pop(operation_id, -1)
        if index < 0 and self.spec.prefix is not None:
            inside = branch_index(self.spec.prefix, operation_id)
            if inside is not None and 0 <= inside < self.spec.count and self.status[inside] == RUNNING:
                self.changed_while_running.add(inside)
            return
        if index >= 0 and self.status[index] == SUSPENDED and not self.done:
            self._mark_running(index)
            self.send(self.branches[index], RunBranch())

    def _settle(self, index: int, status: str) -> None:
        if self.status[index] not in (RUNNING, SUSPENDED):
            raise RuntimeError(f"branch {index} reported {status} while {self.status[index]}")
        self.status[index] = status
        self.running -= 1
        self.in_flight -= 1
        self.changed_while_running.discard(index)
        self.branches.pop(index, None)  # a finished Branch stops itself

    def _advance(self) -> None:
        """Complete, admit waiting branches into free slots, or suspend: in that order.

        A branch whose record was final when the invocation began replays here
        at once (no Branch, no message, no slot held), so a long batch's
        finished branches do not queue for slots ahead of its live ones.
        """
        if self._complete():
            return
        limit = self.spec.max_concurrency
        while self.queue and (limit is None or self.in_flight < limit):
            index = self.queue.popleft()
            self.in_flight += 1
            self._mark_running(index)
            if index not in self.spec.settled_before:
                self._run(index)
            else:
                replayed = run_one(index, self.spec.run_branch, None)
                if isinstance(replayed, BranchFatal):
                    self._fatal(replayed.error)
                    return
                if self._take(replayed) and self._complete():
                    return
        if self.replay_seconds is None:
            started = self.invocation_started
            self.replay_seconds = 0.0 if started is None else self.clock.now() - started
        self._suspend_if_idle()

    def _suspend_if_idle(self) -> None:
        """With nothing running, answer BatchSuspended unless a branch's timer is due within the hold."""
        if self.running == 0 and not self.done:
            dues = [due for i, due in self.resume_at.items() if self.status[i] == SUSPENDED and due is not None]
            resume_at = min(dues) if dues else None
            now = self.clock.now()
            if resume_at is not None and resume_at <= now + self._hold_seconds(now):
                return  # its ResumeWave is on the way: a suspension now would re-invoke for it a moment later
            self._answer(BatchSuspended(resume_at))

    def _hold_seconds(self, now: float) -> float:
        """How soon a branch's timer must be due for the invocation to wait for it instead of suspending.

        GATHER_SECONDS, or as long as this invocation took to replay up to
        here if that is longer (never past its deadline): a new invocation
        would spend that much again before it could resume the branch, so
        waiting is never slower, and a large batch's tail does not cost an
        invocation per timer period.
        """
        hold = max(GATHER_SECONDS, self.replay_seconds or 0.0)
        if self.deadline is not None:
            hold = min(hold, max(0.0, self.deadline - now - GATHER_SECONDS))
        return hold

    def _complete(self) -> bool:
        """Answer the batch's outcome if its completion policy is met (or cannot be): True once done."""
        if self.done:
            return True
        policy = self.spec.completion
        succeeded, failed = len(self.results), len(self.errors)
        if policy.is_complete(succeeded, failed) or not policy.should_continue(failed):
            self._finish(policy.reason(succeeded, failed))
            return True
        return False

    def _mark_running(self, index: int) -> None:
        """Running from here on: a branch whose wave is being refreshed counts as running."""
        self.status[index] = RUNNING
        self.running += 1

    def _run(self, index: int) -> None:
        branch = Branch.start(self.topology, self.pool, self.actor_ref, index, self.spec.run_branch, self.depth)
        self.branches[index] = branch
        prefix, view = self.spec.prefix, None
        if self.spec.new_batch and prefix is not None:
            view = RecordsUnder(child_id(prefix, index + 1), {})
        self.send(branch, RunBranch(view))

    def _finish(self, reason: CompletionReason) -> None:
        items: list[BatchItem[Any]] = []
        for index, status in enumerate(self.status):
            if status == SUCCEEDED:
                items.append(BatchItem(index, BatchItemStatus.SUCCEEDED, self.results[index]))
            elif status == FAILED:
                items.append(BatchItem(index, BatchItemStatus.FAILED, None, self.errors[index]))
            elif status != WAITING:
                items.append(BatchItem(index, BatchItemStatus.STARTED))
        self._answer(BatchResult(items, reason))

    def _fatal(self, error: BaseException) -> None:
        """Re-raise a branch's fatal error on the caller's thread; the batch is over."""
        if not self.done:
            self.done = True
            reject(self.reply_to, error)
            self._release()

    def _answer(self, outcome: Any) -> None:
        self.done = True
        resolve(self.reply_to, outcome)
        self._release()

    def _timers(self) -> pykka.ActorRef[Any]:
        if self.timers is None:
            self.timers = TimerScheduler.start(
                self.topology, self.pool, self.actor_ref, self.spec.name, self.actor_urn, self.depth
            )
            self.subscribe_ticks(self.timers, True)
        return self.timers

    def _release(self) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.send(self.state, Watch(self.actor_ref, False))
        if self.timers is not None:
            self.subscribe_ticks(self.timers, False)
            stop_quietly(self.timers)
            self.timers = None
        for index, branch in list(self.branches.items()):
            if self.status[index] != RUNNING:
                stop_quietly(branch)
                del self.branches[index]

    def on_stop(self) -> None:
        self._release()
        for branch in self.branches.values():
            stop_quietly(branch)
        super().on_stop()
