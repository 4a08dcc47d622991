"""Dispatcher: which execution runs next, and on which worker.

Owns: the ready queue, the offers out to workers, the running table
(execution -> worker, token, deadline, ExecutionState), the pool of workers
and their counters.  Takes: Ready, OutsideChange, Woken (a change another
engine wrote; forwarded to the running ExecutionState), Take, InvocationStarted,
InvocationEnded, Tick (asked of the Ticker for its earliest deadline, offer
timeout or back-off), Committed (a fence it asked for), Settle, DispatcherStats.
Sends: Offer, then Invoke, to a worker; a fencing Persist to the
CheckpointWriter when an invocation outlives its deadline; DispatcherIdle to
the AlarmManager when the engine goes idle or busy; Capacity to the
ClusterMember (on a shared store) when an invocation ends.

Flow control: each worker has one send slot.  An invocation is offered to a
free worker, and is the worker's only when the worker takes it (`Take`);
an offer not taken within `dispatch_timeout` (the lock-acquisition timeout)
is withdrawn and the invocation goes back to the front of the ready queue
for another worker.  The slow worker gets nothing more until it answers its
withdrawn offer; there is no per-worker backlog.  Free workers are served in
the order they became free, ready invocations in the order they became ready.

Invariants: an execution runs on at most one worker at a time (a Ready for a
running execution is remembered and served when it ends; an OutsideChange is
also forwarded to the running invocation's ExecutionState, so it may see the
change at once); a queued wake-up is an alarm only if every Ready for it was
an alarm, so a callback completion is never mistaken for an early alarm; a worker holds at
most the one invocation it runs, so no backlog builds behind a slow worker.
An execution whose worker process died runs again at once; if it keeps
crashing its process, the re-runs back off (1 s, 2 s, 4 s ... up to a minute),
so a handler that always segfaults does not spin.

A fenced invocation's worker is abandoned (a thread cannot be killed; a
worker process is) and replaced; its late writes are rejected by the token.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

import attrs
import pykka
from loguru import logger

from actors.messages import (
    Capacity,
    Committed,
    DispatcherIdle,
    DispatcherStats,
    FenceWritten,
    InvocationEnded,
    InvocationStarted,
    Invoke,
    Offer,
    OutsideChange,
    Persist,
    Ready,
    Settle,
    Take,
    Tick,
    Woken,
)
from actors.replies import resolve
from actors.ticker import TickAt, Ticker
from actors.topology import Topology, TrackedActor
from durable.clock import Clock, RealClock, skew
from durable.core.records import ErrorObject
from durable.core.writes import close_invocation

DISPATCH_TIMEOUT = 0.25
#: a fencing write that failed (the store refused or was down) is tried again after this
FENCE_RETRY_SECONDS = 0.1
CRASH_BACKOFF_CAP = 60.0
WorkerFactory = Callable[[pykka.ActorRef[Any], int], pykka.ActorRef[Any]]


@attrs.define(slots=True)
class Running:
    worker: str
    alarm: bool
    token: int | None = None
    deadline: float | None = None
    fencing: bool = False
    state: pykka.ActorRef[Any] | None = None
    pid: int | None = None


@attrs.define(slots=True)
class Offered:
    """An invocation offered to a worker that has not taken it yet."""

    execution_id: str
    alarm: bool
    offer_id: int
    sent: float
    withdrawn: bool = False


@attrs.define(slots=True)
class WorkerCounters:
    dispatched: int = 0
    requeued: int = 0
    latencies: collections.deque[float] = attrs.field(factory=lambda: collections.deque(maxlen=10_000))

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def at(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) if ordered else None

        return {"dispatched": self.dispatched, "requeued": self.requeued, "send_p50_ms": at(0.5),
                "send_p99_ms": at(0.99)}


class Dispatcher(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        writer: pykka.ActorRef[Any],
        alarm_manager: pykka.ActorRef[Any],
        make_worker: WorkerFactory,
        workers: int,
        dispatch_timeout: float = DISPATCH_TIMEOUT,
        clock: Clock | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        """`clock`: its real-time reading (`wall`) times offers and back-offs, whatever the engine's time does.
        `ticker`: asked for a Tick at the earliest deadline, offer timeout or back-off (None: Ticks are told)."""
        super().__init__(topology, "engine")
        self.clock: Clock = clock or RealClock()
        self.writer = writer
        self.alarm_manager = alarm_manager
        self.make_worker = make_worker
        self.worker_count = workers
        self.dispatch_timeout = dispatch_timeout
        self.workers: dict[str, pykka.ActorRef[Any]] = {}
        self.names: dict[str, str] = {}
        self.free: collections.deque[str] = collections.deque()
        self.offers: dict[str, Offered] = {}
        self.offered: set[str] = set()
        self.offer_ids = 0
        self.per_worker: dict[str, WorkerCounters] = {}
        self.queue: collections.deque[str] = collections.deque()
        self.queued: dict[str, bool] = {}
        self.running: dict[str, Running] = {}
        self.again: dict[str, bool] = {}
        self.crashes: dict[str, int] = {}
        #: execution -> its invocations in a row stopped at their deadline (the invoker gives up after a few)
        self.timed_out: dict[str, int] = {}
        self.backed_off: dict[str, float] = {}
        self.idle = True
        self.serial = 0
        self.claimer: pykka.ActorRef[Any] | None = None
        self.counters = {"dispatched": 0, "requeued": 0, "fenced": 0, "replaced_workers": 0, "replaced_processes": 0}
        self.wakeup = TickAt(ticker, self.actor_ref)

    def connect_claimer(self, claimer: pykka.ActorRef[Any]) -> None:
        """On a shared store: tell `claimer` (the ClusterMember) the free capacity as invocations end."""
        self.claimer = claimer

    def on_start(self) -> None:
        for _ in range(self.worker_count):
            self._add_worker()

    def on_stop(self) -> None:
        for ref in self.workers.values():
            ref.stop(block=False)
        for run in self.running.values():
            _kill(run.pid)  # a worker busy in user code cannot stop its own process
        super().on_stop()

    def _add_worker(self) -> None:
        self.serial += 1
        ref = self.make_worker(self.actor_ref, self.serial)
        self.workers[ref.actor_urn] = ref
        self.names[ref.actor_urn] = f"worker-{self.serial}"
        self.per_worker[ref.actor_urn] = WorkerCounters()
        self.free.append(ref.actor_urn)

    def handle(self, message: Any) -> Any:
        match message:
            case Ready(execution_ids, alarm):
                for eid in execution_ids:
                    self._ready(eid, alarm)
            case OutsideChange(eid, _operations, wake):
                run = self.running.get(eid)
                if run is not None and run.state is not None:
                    with contextlib.suppress(pykka.ActorDeadError):
                        self.send(run.state, message)
                if wake:
                    self._ready(eid, False)
            case Woken(execution_ids):
                for eid in execution_ids:
                    run = self.running.get(eid)
                    if run is not None:
                        if run.state is not None:
                            with contextlib.suppress(pykka.ActorDeadError):
                                self.send(run.state, Woken((eid,)))
                        self._ready(eid, False)
            case Take(worker, offer_id):
                self._taken(worker, offer_id)
            case InvocationStarted(eid, token, worker, deadline, state, pid):
                run = self.running.get(eid)
                if run is not None and run.worker == worker:
                    run.token, run.deadline, run.state, run.pid = token, deadline, state, pid
                    self.wakeup.ask(deadline)
            case InvocationEnded(eid, _token, worker, crashed):
                if not self._ended(eid, worker):
                    return None  # an abandoned worker's late end says nothing about the execution now
                if crashed:
                    self._rerun_after_crash(eid)
                else:
                    self.crashes.pop(eid, None)
                    self.timed_out.pop(eid, None)
            case Tick(now):
                self.wakeup.arrived(now)
                self._fence_overdue(now)
                self._withdraw_stale()
                self._release_backed_off()
                self._wake_at_next_due()
            case Committed(FenceWritten(eid, token), result):
                self._fenced(eid, token, result.ok)
            case Settle(reply_to):
                resolve(reply_to, None)
            case DispatcherStats():
                return {
                    **self.counters,
                    "running": len(self.running),
                    "queued": len(self.queue),
                    "idle": self.idle,
                    "workers": len(self.workers),
                    "per_worker": self._worker_summaries(),
                }
            case _:
                raise TypeError(f"Dispatcher got an unexpected message {message!r}")
        self._pump()
        return None

    def _worker_summaries(self) -> dict[str, dict[str, Any]]:
        """Each worker's counters, also written on its node in the topology picture."""
        summaries = {}
        for worker, counters in self.per_worker.items():
            summary = summaries[self.names[worker]] = counters.summary()
            self.topology.annotate(
                worker, f"dispatched {summary['dispatched']}, requeued {summary['requeued']}, "
                f"send p99 {summary['send_p99_ms']} ms",
            )
        return summaries

    def _ready(self, eid: str, alarm: bool) -> None:
        """Queue `eid`; one offered, not yet begun, will load this change anyway; one running runs again."""
        if eid in self.offered:
            if not alarm:
                for offer in self.offers.values():
                    if offer.execution_id == eid and not offer.withdrawn:
                        offer.alarm = False
        elif eid in self.running:
            self.again[eid] = self.again.get(eid, True) and alarm
        elif eid in self.queued:
            self.queued[eid] = self.queued[eid] and alarm
        else:
            self.queued[eid] = alarm
            self.queue.append(eid)

    def _pump(self) -> None:
        while self.queue and self.free:
            eid = self.queue.popleft()
            alarm = self.queued.pop(eid)
            worker = self.free.popleft()
            if worker not in self.workers:
                self._requeue_front(eid, alarm)
                continue
            self.offer_ids += 1
            offer = self.offers[worker] = Offered(eid, alarm, self.offer_ids, self.clock.wall())
            self._wake_at_wall(offer.sent + self.dispatch_timeout)
            self.offered.add(eid)
            self.send(self.workers[worker], Offer(self.offer_ids))
        idle = not self.running and not self.queue and not self.offered and not self.backed_off
        if idle != self.idle:
            self.idle = idle
            self.send(self.alarm_manager, DispatcherIdle(idle))

    def _taken(self, worker: str, offer_id: int) -> None:
        offer = self.offers.get(worker)
        if offer is None or offer.offer_id != offer_id:
            return
        del self.offers[worker]
        if offer.withdrawn:
            self.free.append(worker)
            return
        self.offered.discard(offer.execution_id)
        counters = self.per_worker[worker]
        counters.dispatched += 1
        counters.latencies.append(self.clock.wall() - offer.sent)
        self.counters["dispatched"] += 1
        self.running[offer.execution_id] = Running(worker, offer.alarm)
        eid = offer.execution_id
        self.send(self.workers[worker], Invoke(eid, offer.alarm, self.timed_out.get(eid, 0)))

    def _withdraw_stale(self) -> None:
        """Offers not taken within the timeout go back to the front of the queue, for another worker."""
        limit = self.clock.wall() - self.dispatch_timeout
        for worker, offer in self.offers.items():
            if offer.withdrawn or offer.sent > limit:
                continue
            offer.withdrawn = True
            self.offered.discard(offer.execution_id)
            self.per_worker[worker].requeued += 1
            self.counters["requeued"] += 1
            logger.debug("{} did not take an offer within {} s; offering it elsewhere", self.names[worker],
                         self.dispatch_timeout)
            self._requeue_front(offer.execution_id, offer.alarm)

    def _requeue_front(self, eid: str, alarm: bool) -> None:
        if eid in self.queued:
            self.queued[eid] = self.queued[eid] and alarm
            return
        self.queued[eid] = alarm
        self.queue.appendleft(eid)

    def _ended(self, eid: str, worker: str) -> bool:
        """Free the worker of the execution's current invocation; False: `worker` was abandoned (fenced)."""
        run = self.running.get(eid)
        if run is None or run.worker != worker:
            abandoned = self.workers.pop(worker, None)
            if abandoned is not None:
                abandoned.stop(block=False)
            return False
        del self.running[eid]
        self.free.append(worker)
        if eid in self.again:
            self._ready(eid, self.again.pop(eid))
        if self.claimer is not None:
            free = 2 * len(self.workers) - len(self.running) - len(self.queue) - len(self.offered)
            if free > 0:
                self.send(self.claimer, Capacity(free))
        return True

    def _rerun_after_crash(self, eid: str) -> None:
        """Run a crashed execution again: at once the first time, then backing off."""
        self.counters["replaced_processes"] += 1
        crashes = self.crashes[eid] = self.crashes.get(eid, 0) + 1
        if crashes == 1:
            self._ready(eid, False)
            return
        delay = min(CRASH_BACKOFF_CAP, 2.0 ** (crashes - 2))
        logger.warning("{} crashed {} times in a row; running it again in {} s", eid, crashes,
                       delay)
        due = self.backed_off[eid] = self.clock.wall() + delay
        self._wake_at_wall(due)

    def _wake_at_wall(self, due: float) -> None:
        """Ask for a Tick at `due`, a real time, on the engine's clock (a skip ahead only brings it early)."""
        self.wakeup.ask(due + skew(self.clock))

    def _wake_at_next_due(self) -> None:
        dues = [run.deadline for run in self.running.values() if run.deadline is not None and not run.fencing]
        ahead = skew(self.clock)
        dues += [offer.sent + self.dispatch_timeout + ahead for offer in self.offers.values() if not offer.withdrawn]
        dues += [due + ahead for due in self.backed_off.values()]
        self.wakeup.ask(min(dues) if dues else None)

    def _release_backed_off(self) -> None:
        now = self.clock.wall()
        for eid in [eid for eid, due in self.backed_off.items() if due <= now]:
            del self.backed_off[eid]
            self._ready(eid, False)

    def _fence_overdue(self, now: float) -> None:
        for eid, run in self.running.items():
            if run.fencing or run.token is None or run.deadline is None or now < run.deadline:
                continue
            run.fencing = True
            error = ErrorObject(f"invocation {run.token} of {eid} timed out", "Sandbox.Timedout")
            ws = close_invocation(eid, run.token, now, error, request_id=str(run.token))
            self.send(self.writer, Persist(ws, notify=self.actor_ref, tag=FenceWritten(eid, run.token)))

    def _fenced(self, eid: str, token: int, ok: bool) -> None:
        run = self.running.get(eid)
        if run is None or run.token != token:
            return
        if not ok:
            run.fencing = False
            self.wakeup.ask(self.clock.now() + FENCE_RETRY_SECONDS)
            return
        logger.warning("invocation {} of {} timed out; re-invoking from its last checkpoint", token, eid)
        self.timed_out[eid] = self.timed_out.get(eid, 0) + 1
        _kill(run.pid)
        self.counters["fenced"] += 1
        self.counters["replaced_workers"] += 1
        del self.running[eid]
        self._add_worker()
        self._ready(eid, False)


def _kill(pid: int | None) -> None:
    """End the worker process running an invocation (process isolation); threads cannot be killed."""
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
