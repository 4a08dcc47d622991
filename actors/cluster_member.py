"""ClusterMember: this engine's place among the engines that share one store.

Owns: the engine's lease (renewed by heartbeat; on loss, logged and taken
again under a new epoch, so what the old epoch wrote stays refused), the
schedule of takeovers (members past their lease are declared dead and their
executions handed on) and of claims (ready executions no live member owns,
woken first, then due, in batches sized by the Dispatcher's free capacity).
Takes: Tick, Capacity (from the Dispatcher), Woken (from the WakeListener),
ClaimNow (from itself, so that a burst of reasons makes one claim).  Sends:
Ready (claimed executions) and Woken (changes other engines wrote) to the
Dispatcher.

Every store call here is one short transaction on this actor's own thread;
nothing else waits on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pykka
from loguru import logger

from actors.messages import Capacity, ClaimNow, Ready, Tick, Woken
from actors.topology import Topology, TrackedActor
from durable.clock import Clock

POLL_SECONDS = 0.25
#: WakeListener: how long one wait for a notification lasts, and how long a burst is gathered
STOP_CHECK_SECONDS = 0.25
BURST_SECONDS = 0.005


class ClusterMember(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        store: Any,
        clock: Clock,
        dispatcher: pykka.ActorRef[Any],
        functions: Callable[[], list[str]],
        workers: int,
        lease_seconds: float,
    ) -> None:
        super().__init__(topology, "engine")
        self.store = store
        self.clock = clock
        self.dispatcher = dispatcher
        self.functions = functions
        self.lease_seconds = lease_seconds
        self.heartbeat_every = max(0.05, lease_seconds / 5)
        self.free = 2 * workers
        self.claim_pending = False
        self.next_heartbeat = 0.0
        self.next_poll = 0.0

    def handle(self, message: Any) -> Any:
        match message:
            case Tick():
                now = self.clock.wall()
                if now >= self.next_heartbeat:
                    self.next_heartbeat = now + self.heartbeat_every
                    self._keep_lease()
                    self._take_over()
                if now >= self.next_poll:
                    self.next_poll = now + POLL_SECONDS
                    self._ask_claim()
            case Capacity(free):
                self.free = free
                if free > 0:
                    self._ask_claim()
            case Woken():
                self.send(self.dispatcher, message)
                self._ask_claim()
            case ClaimNow():
                self.claim_pending = False
                self._claim()
            case _:
                raise TypeError(f"ClusterMember got an unexpected message {message!r}")
        return None

    def _ask_claim(self) -> None:
        if not self.claim_pending:
            self.claim_pending = True
            self.actor_ref.tell(ClaimNow())

    def _keep_lease(self) -> None:
        try:
            if self.store.heartbeat(self.lease_seconds):
                return
            member = self.store.rejoin(self.lease_seconds)
            logger.error(
                "engine {} lost its lease (paused or cut off past {} s); its running invocations are fenced, "
                "it goes on under epoch {}", member.engine_id, self.lease_seconds, member.epoch,
            )
        except Exception as error:
            logger.warning("could not renew the engine's lease: {}", error)

    def _take_over(self) -> None:
        try:
            freed = self.store.reap_dead_members(self.clock.now())
        except Exception as error:
            logger.warning("could not check for dead engines: {}", error)
            return
        if freed:
            logger.warning("took over {} execution(s) of engine(s) past their lease", len(freed))
            self._ask_claim()

    def _claim(self) -> None:
        limit = max(self.free, 1)
        try:
            claimed = self.store.claim_ready(self.functions(), self.clock.now(), limit)
        except Exception as error:
            logger.warning("could not claim ready executions: {}", error)
            return
        self.free = max(0, self.free - len(claimed.woken) - len(claimed.due))
        if claimed.woken:
            self.send(self.dispatcher, Ready(claimed.woken))
        if claimed.due:  # checked against the store like this engine's own alarms: an invocation that
            # began meanwhile has already done what was due, and the check re-arms instead of invoking
            self.send(self.dispatcher, Ready(claimed.due, alarm=True))


class WakeListener:
    """A daemon thread that LISTENs for other engines' outside changes and tells the ClusterMember, batched.

    Not an actor: it owns nothing and only relays.  A lost connection is
    reopened with backoff; the member's polling covers the gap.
    """

    def __init__(self, store: Any, member: pykka.ActorRef[Any]) -> None:
        self.store = store
        self.member = member
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="durable-wake-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                conn = self.store.listen()
            except Exception as error:
                logger.warning("cannot listen for wake-ups: {}; polling meanwhile", error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            try:
                while not self._stop.is_set():
                    # asleep until a first notification (or a quarter second, to see a stop), then
                    # a few milliseconds more for the ones right behind it: one Woken per burst
                    first = list(conn.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1))
                    if first:
                        rest = conn.notifies(timeout=BURST_SECONDS, stop_after=1000)
                        self.member.tell(Woken(tuple({n.payload for n in [*first, *rest]})))
            except pykka.ActorDeadError:
                return
            except Exception as error:
                logger.warning("lost the wake-up connection: {}", error)
            finally:
                conn.close()
