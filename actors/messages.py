"""Every message the actors exchange: the whole protocol on one screen.

`reply_to` is a pykka future that a non-actor thread (a handler, the engine
facade) waits on; actors never wait on each other, they tell and are told.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs
from pykka import ActorRef

from durable.core.history import HistoryEvent
from durable.core.records import ErrorObject, OperationRecord, RecordUpdate
from durable.core.transitions import CallbackAction
from durable.stores.base import CommitResult, WriteSet


class Settable(Protocol):
    """Where an actor puts an answer a thread waits on: a pykka future or an `actors.replies.Answer`."""

    def set(self, value: Any = None) -> None: ...

    def set_exception(self, exc_info: Any = None) -> None: ...


Reply = Settable | None


@attrs.frozen(slots=True)
class Tick:
    """Time passed; sent by the Ticker to the AlarmManager and the Dispatcher."""

    now: float


# --- CheckpointWriter, and what a Committed answer is for (its tag)


@attrs.frozen(slots=True)
class FenceWritten:
    """The Dispatcher's write that ended or fenced invocation `token` of an execution."""

    execution_id: str
    token: int


@attrs.frozen(slots=True)
class WaveFired:
    """The one state refresh a BatchParent asked for before resuming a timer wave (the branches' indexes)."""

    branches: tuple[int, ...]


@attrs.frozen(slots=True)
class TimersFired:
    """ExecutionState's write of fired timers; it then answers the FireDueTimers that asked."""

    reply_to: Reply
    notify: ActorRef[Any] | None
    tag: CommitTag
    views_of: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class CallbackWritten:
    """ExternalEvents' write of a callback completion (`wake`: the execution should run again)."""

    reply_to: Reply
    execution_id: str
    operation: OperationRecord
    wake: bool


@attrs.frozen(slots=True)
class ChildResultWritten:
    """ExternalEvents' write of a chained invoke's result into the parent execution."""

    reply_to: Reply
    execution_id: str
    operation: OperationRecord


CommitTag = FenceWritten | WaveFired | TimersFired | CallbackWritten | ChildResultWritten | None


@attrs.frozen(slots=True)
class Persist:
    """Commit one WriteSet; answer the future, and/or tell `notify` a Committed(tag)."""

    writeset: WriteSet
    reply_to: Reply = None
    notify: ActorRef[Any] | None = None
    tag: CommitTag = None


@attrs.frozen(slots=True)
class Flush:
    """The writer's note to itself: commit everything queued so far in one transaction."""


@attrs.frozen(slots=True)
class Committed:
    tag: CommitTag
    result: CommitResult


@attrs.frozen(slots=True)
class WriterStats:
    """Ask the CheckpointWriter how many transactions it has committed."""


@attrs.frozen(slots=True)
class CreateExecution:
    execution_id: str
    function_name: str
    input: str | None
    name: str | None
    deadline: float | None
    start_event: HistoryEvent
    reply_to: Reply
    parent: tuple[str, str] | None = None
    tenant_id: str | None = None


@attrs.frozen(slots=True)
class SaveMeta:
    key: str
    value: str
    reply_to: Reply = None


@attrs.frozen(slots=True)
class BeginInvocation:
    execution_id: str
    reply_to: Reply


# --- ExecutionState


@attrs.frozen(slots=True)
class Lookup:
    """The operation at this id as the map holds it now, answered on `reply_to`."""

    operation_id: str
    reply_to: Reply


@attrs.frozen(slots=True)
class Snapshot:
    """Ask for every operation as it is now (frozen records; the map stays with the actor)."""


@attrs.frozen(slots=True)
class Checkpoint:
    """Apply `updates` in order.  With `reply_to`, answered once committed; without, they ride the next write."""

    updates: tuple[RecordUpdate, ...]
    reply_to: Reply = None


@attrs.frozen(slots=True)
class SendUnsent:
    """Ticker -> ExecutionState: write what unwaited checkpoints left unsent, if nothing took it yet."""


@attrs.frozen(slots=True)
class FireDueTimers:
    """Refresh: let every due wait succeed and every due retry become ready, in one write.

    Answered on `reply_to` (a waiting thread) or as Committed(tag) to `notify` (an actor).
    """

    reply_to: Reply = None
    notify: ActorRef[Any] | None = None
    tag: CommitTag = None
    #: ids of branches about to resume: their records go to `notify` as BranchRecords before the Committed
    views_of: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class RecordsUnder:
    """Every record at or under `root` as the ExecutionState held them at one moment (a branch's replay)."""

    root: str
    records: dict[str, OperationRecord]


@attrs.frozen(slots=True)
class BranchRecords:
    """The records of the branches a FireDueTimers named, after its refresh; sent just before its Committed."""

    tag: CommitTag
    views: tuple[RecordsUnder, ...]


class OutcomeStatus(enum.Enum):
    """How an invocation ended: the SDK's three, and INTERRUPTED (the runtime failed under it; run it again)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    INTERRUPTED = "INTERRUPTED"


@attrs.frozen(slots=True)
class InvocationOutcome:
    status: OutcomeStatus
    result: str | None = None
    error: ErrorObject | None = None
    started: float = 0.0
    #: with plugins: the operations closed outside the handler whose end they were told (durable.plugin_session)
    reported_ends: frozenset[str] | None = None


@attrs.frozen(slots=True)
class EndInvocation:
    outcome: InvocationOutcome
    reply_to: Reply = None


# --- AlarmClient and AlarmManager


@attrs.frozen(slots=True)
class PrepareAlarm:
    """Before a commit that changes the stored alarm: send a move-earlier now, then forward `then`."""

    execution_id: str
    due: float | None
    then: Persist


@attrs.frozen(slots=True)
class AlarmCommitted:
    """After the commit: a move-later or delete may go to the manager now."""

    execution_id: str
    due: float | None


@attrs.frozen(slots=True)
class SetAlarm:
    """Set the execution's alarm, unless an update with a higher `seq` was applied already."""

    execution_id: str
    due: float
    seq: int = 0


@attrs.frozen(slots=True)
class DeleteAlarm:
    execution_id: str
    seq: int = 0


@attrs.frozen(slots=True)
class AlarmAck:
    """The manager applied (or, being stale, ignored) update `seq`."""

    execution_id: str
    seq: int


@attrs.frozen(slots=True)
class AlarmNack:
    """The manager could not take update `seq`; the client retries it."""

    execution_id: str
    seq: int


@attrs.frozen(slots=True)
class AlarmFired:
    execution_id: str
    due: float


@attrs.frozen(slots=True)
class SkipTime:
    """The test runner's virtual clock may jump to the earliest alarm whenever the engine is idle (or no longer)."""

    on: bool


@attrs.frozen(slots=True)
class DispatcherIdle:
    """No invocation runs and none is ready: a virtual clock may skip to the next alarm."""

    idle: bool


@attrs.frozen(slots=True)
class NextAlarm:
    """Ask the AlarmManager for its earliest alarm (tests and the progress line)."""


# --- Dispatcher and workers


@attrs.frozen(slots=True)
class Ready:
    """These executions have work; `alarm` marks a wake-up that must be checked against the store."""

    execution_ids: tuple[str, ...]
    alarm: bool = False


@attrs.frozen(slots=True)
class Offer:
    """The Dispatcher offers a worker its next invocation; the worker answers Take when it can."""

    offer_id: int


@attrs.frozen(slots=True)
class Take:
    """A worker takes offer `offer_id`; the Dispatcher answers Invoke, or frees it if the offer was withdrawn."""

    worker: str
    offer_id: int


@attrs.frozen(slots=True)
class Invoke:
    execution_id: str
    alarm: bool = False
    #: how many of the execution's invocations in a row were stopped for outliving their deadline
    timed_out: int = 0


@attrs.frozen(slots=True)
class InvocationStarted:
    """An invocation opened; `state` is its ExecutionState, which outside changes are forwarded to.

    `pid`: the worker process running it (process isolation), killed if the invocation outlives its deadline.
    """

    execution_id: str
    token: int
    worker: str
    deadline: float
    state: ActorRef[Any] | None = None
    pid: int | None = None


@attrs.frozen(slots=True)
class InvocationEnded:
    """The worker is free again; `crashed`: the invocation crashed (its worker process died, or the runtime
    raised), so the execution runs again, backing off if it keeps crashing."""

    execution_id: str
    token: int | None
    worker: str
    crashed: bool = False


@attrs.frozen(slots=True)
class Settle:
    """Answered once the Dispatcher has handled everything sent to it before (and told the AlarmManager)."""

    reply_to: Reply


@attrs.frozen(slots=True)
class DispatcherStats:
    """Ask the Dispatcher for its counters."""


# --- Outside events: callbacks completed by other systems, invoked executions that ended


@attrs.frozen(slots=True)
class CallbackSignal:
    """An outside system's success, failure or heartbeat for a callback id."""

    callback_id: str
    action: CallbackAction
    payload: str | None
    error: ErrorObject | None
    reply_to: Reply


@attrs.frozen(slots=True)
class OutsideChange:
    """Committed changes an invocation did not make; `wake` asks for an invocation to see them.

    ExternalEvents tells the Dispatcher, which forwards it to the execution's
    running ExecutionState, if any, and (with `wake`) makes the execution ready.
    """

    execution_id: str
    operations: tuple[OperationRecord, ...]
    wake: bool


# --- Completion


@attrs.frozen(slots=True)
class AwaitEnd:
    execution_id: str
    reply_to: Reply


@attrs.frozen(slots=True)
class ExecutionEnded:
    """An execution ended; told to the CompletionBoard, and asked of ExternalEvents for a chained one.

    ExternalEvents answers `reply_to` only once the caller's operation is
    closed and the Dispatcher told, so the caller is ready before the engine
    can look idle.
    """

    execution_id: str
    reply_to: Reply = None


# --- Many engines on one shared store (ClusterMember, WakeListener)


@attrs.frozen(slots=True)
class Woken:
    """Another engine wrote an outside change to these executions (a database notification).

    WakeListener -> ClusterMember -> Dispatcher -> the running ExecutionState, which reads the change.
    """

    execution_ids: tuple[str, ...]


@attrs.frozen(slots=True)
class Capacity:
    """Dispatcher -> ClusterMember: this many more executions would keep the workers busy."""

    free: int


@attrs.frozen(slots=True)
class ClaimNow:
    """ClusterMember -> itself: claim ready executions once, for every reason that piled up meanwhile."""


# --- Timers inside one invocation (map/parallel branches)


@attrs.frozen(slots=True)
class ScheduleResume:
    key: str
    due: float


@attrs.frozen(slots=True)
class ResumeWave:
    """Every timer that came due at one tick, delivered together: one refresh serves them all."""

    keys: tuple[str, ...]
    now: float


# --- map and parallel: the BatchParent and its Branch actors


@attrs.frozen(slots=True)
class RunBranch:
    """Run (or re-run, replaying what it already did) the branch's function.

    `view`: the branch's records as of the refresh before this run, so its replay needs no lookups.
    """

    view: RecordsUnder | None = None


@attrs.frozen(slots=True)
class BranchSucceeded:
    index: int
    result: Any


@attrs.frozen(slots=True)
class BranchFailed:
    index: int
    error: ErrorObject


@attrs.frozen(slots=True)
class BranchSuspended:
    """The branch waits: on a timer due at `resume_at`, and/or on the outside-closed operation `waiting_on`."""

    index: int
    resume_at: float | None
    waiting_on: str | None = None


@attrs.frozen(slots=True)
class BranchFatal:
    """The branch raised what is not an error of its own (SystemExit, a failed checkpoint writer): the batch
    re-raises it on the caller's thread at once, as the SDK does, instead of counting a branch failure."""

    index: int
    error: BaseException


@attrs.frozen(slots=True)
class Watch:
    """A BatchParent asks the ExecutionState to forward (or, `on=False`, stop forwarding) OutsideChanges."""

    watcher: ActorRef[Any]
    on: bool


@attrs.frozen(slots=True)
class BatchSuspended:
    """The parent's answer when nothing can run: the invocation should suspend until `resume_at`."""

    resume_at: float | None



# --- Worker processes: the link between an InvocationWorker and the process that runs its handlers
#
# Futures and actor refs cannot cross a process boundary; the sending link
# swaps them for handles (`FutureHandle`, `RefHandle`) and the receiving link
# for relays that send `Resolve`/`Deliver` back.  `Remote("state")` names an
# actor the parent exports to the invocation running in the child.


@attrs.frozen(slots=True)
class FutureHandle:
    id: int


@attrs.frozen(slots=True)
class RefHandle:
    id: int
    urn: str


@attrs.frozen(slots=True)
class Remote:
    """An actor of the parent process, by the name it is exported under."""

    name: str


@attrs.frozen(slots=True)
class RunHandler:
    """Parent -> child: run one invocation's handler (or a plain function) and answer HandlerDone."""

    module: str
    qualname: str
    durable: bool
    record: Any
    snapshot: dict[str, OperationRecord]
    started: float
    sys_path: tuple[str, ...] = ()
    meta: Any = None  # durable.plugin_session.InvocationMeta: request id, updated operations
    lambda_context: Any = None  # a module-level function making the handler's context.lambda_context


@attrs.frozen(slots=True)
class HandlerDone:
    """Child -> parent: the handler's outcome, or the error that stopped it (a fenced checkpoint, say)."""

    outcome: InvocationOutcome | None
    error: BaseException | None = None


@attrs.frozen(slots=True)
class RemoteTell:
    target: Remote
    message: Any


@attrs.frozen(slots=True)
class RemoteCall:
    """Call one of the engine services the parent lends to the child (`now`, `start_chained`, ...)."""

    method: str
    args: tuple[Any, ...]
    reply_to: Any


@attrs.frozen(slots=True)
class Resolve:
    future: int
    value: Any = None
    error: BaseException | None = None


@attrs.frozen(slots=True)
class Deliver:
    ref: int
    message: Any


@attrs.frozen(slots=True)
class Send:
    """To a link actor: translate `message` and write it to the other process; then resolve `written`."""

    message: Any
    written: Reply = None


@attrs.frozen(slots=True)
class Received:
    """To a link actor, from its reader thread: `message` arrived from the other process."""

    message: Any


@attrs.frozen(slots=True)
class RunInProcess:
    """To the parent link: run `job` in the child with `exports` lent to it; answer on `reply_to`."""

    job: RunHandler
    exports: dict[str, Any]
    reply_to: Reply


@attrs.frozen(slots=True)
class ChildExited:
    """The child's pipe closed: the process is gone (`exitcode` when known)."""

    exitcode: int | None


# --- TopologyKeeper (who exists and who talks to whom)


@attrs.define(slots=True, eq=False)
class ActorGauge:
    """What an actor counts about itself: written only by whoever handles its messages, read by the keeper.

    `inbox` is its mailbox (a SimpleQueue: `qsize()` is the depth, safe from
    any thread); `handled` counts messages handled; `busy` is true while one is.
    """

    inbox: Any
    handled: int = 0
    busy: bool = False


@attrs.frozen(slots=True)
class ActorInfo:
    urn: str
    kind: str
    name: str
    parent: str | None
    sent: dict[str, int] = attrs.field(eq=False, hash=False, repr=False)
    gauge: ActorGauge | None = attrs.field(default=None, eq=False, hash=False, repr=False)


@attrs.frozen(slots=True)
class Registered:
    info: ActorInfo


@attrs.frozen(slots=True)
class Unregistered:
    urn: str


@attrs.frozen(slots=True)
class Annotate:
    """A line to show under an actor's name in the picture."""

    urn: str
    note: str


@attrs.frozen(slots=True)
class CallerCounts:
    """A non-actor thread's own send counts (target urn -> sends), handed over once; it keeps counting in it."""

    counts: dict[str, int] = attrs.field(eq=False, hash=False, repr=False)


@attrs.frozen(slots=True)
class Picture:
    """Asked of the keeper from a non-actor thread; answered with a TopologyPicture."""


@attrs.frozen(slots=True)
class GraphNode:
    """One node of a drawn topology: an actor, or several of one kind (`members`) folded into one."""

    id: str
    kind: str
    label: str
    members: int = 1


@attrs.frozen(slots=True)
class TopologyGraph:
    """The picture as data: nodes, and edges weighted by messages sent since the engine started."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [{"id": n.id, "kind": n.kind, "label": n.label, "members": n.members} for n in self.nodes],
            "edges": [{"source": a, "target": b, "count": n} for a, b, n in self.edges],
        }


@attrs.frozen(slots=True)
class TopologyPicture:
    actors: tuple[ActorInfo, ...]
    edges: list[tuple[str, str, int]]
    dot: str
    graph: TopologyGraph = TopologyGraph((), ())


@attrs.frozen(slots=True)
class Sample:
    """Asked of the keeper by a feed's sampling thread: what changed since this `reader`'s last Sample."""

    reader: str


@attrs.frozen(slots=True)
class ForgetReader:
    """The reader stopped sampling; the keeper drops what it remembered for it."""

    reader: str


@attrs.frozen(slots=True)
class SampledNode:
    """Live actors folded into one node: how many, their mailboxes' total depth, how many are busy now,
    and how many messages they handled since the reader's last sample.  `group` names the node it belongs
    to (a batch parent, for its branches)."""

    id: str
    kind: str
    label: str
    members: int
    depth: int
    busy: int
    handled: int
    group: str | None = None


@attrs.frozen(slots=True)
class TopologySample:
    """The keeper's answer to Sample: nodes and per-edge message counts over `interval` seconds."""

    at: float
    interval: float
    nodes: tuple[SampledNode, ...]
    edges: tuple[tuple[str, str, int], ...]

