"""Ticker: the engine's one source of time passing.

A plain daemon thread that tells `Tick(now)` to its subscribers every
`interval` seconds (only actors with timers that must be looked at that
often: an invocation's TimerScheduler while it holds timers), delivers the
one-shot messages asked of it with `once` at the next tick, and those asked
with `at` when the clock reaches their time (so an alarm fires on time, not
up to a tick late).  An actor with occasional due times (a deadline, an
acknowledgement's timeout) asks for a Tick at the earliest through `TickAt`
instead of hearing a hundred ticks a second.  Its subscribers and timed
messages are its own: other threads change them only by request, through
one queue.  Timers are data in the actors; this thread only nudges them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import queue
import threading
import time
from typing import Any

import attrs
import pykka

from actors.messages import Tick
from actors.pool import keep_this_thread_free
from durable.clock import Clock


class Ticker:
    def __init__(self, clock: Clock, subscribers: list[pykka.ActorRef[Any]], interval: float = 0.01) -> None:
        self.clock = clock
        self.interval = interval
        self._initial = list(subscribers)
        self._once: queue.SimpleQueue[tuple[pykka.ActorRef[Any], Any]] = queue.SimpleQueue()
        #: set by the ticking thread while it sleeps past the next interval (nobody to tick): a `once` wakes it
        self._dozing = False
        #: requests for the ticking thread, which owns the subscribers and the timed messages; None stops it
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="durable-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def subscribe(self, ref: pykka.ActorRef[Any]) -> None:
        """Tick `ref` every interval from now on (callable from any thread)."""
        self._requests.put(_Subscribe(ref, True))

    def unsubscribe(self, ref: pykka.ActorRef[Any]) -> None:
        self._requests.put(_Subscribe(ref, False))

    def once(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Tell `ref` `message` at the next tick (callable from any thread; costs the caller no hand-off
        while the Ticker ticks)."""
        self._once.put((ref, message))
        if self._dozing:
            self._requests.put(_WAKE)

    def at(self, when: float, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Tell `ref` `message` once the clock reads `when` (callable from any thread)."""
        self._requests.put(_At(when, ref, message))

    def stop(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        keep_this_thread_free()
        subscribers = {ref.actor_urn: ref for ref in self._initial}
        timed: list[tuple[float, int, pykka.ActorRef[Any], Any]] = []
        order = itertools.count()
        next_tick = time.monotonic() + self.interval
        while True:
            sleep = next_tick - time.monotonic()
            dozing = False
            if not subscribers:
                self._dozing = True  # before looking at `once`: a put after the look sees the flag and wakes us
                if self._once.empty():
                    sleep, dozing = DOZE_SECONDS, True
            if timed:
                sleep = min(sleep, timed[0][0] - self.clock.now())
            try:
                request = self._requests.get(timeout=max(0.0, sleep))
            except queue.Empty:
                pass
            else:
                match request:
                    case None:
                        return
                    case _At(when, ref, message):
                        heapq.heappush(timed, (when, next(order), ref, message))
                    case _Subscribe(ref, True):
                        subscribers[ref.actor_urn] = ref
                    case _Subscribe(ref, False):
                        subscribers.pop(ref.actor_urn, None)
            self._dozing = False
            now = self.clock.now()
            while timed and timed[0][0] <= now:
                _, _, ref, message = heapq.heappop(timed)
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(message)
            if dozing and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.interval  # a `once` woke us: it still waits one interval
            if time.monotonic() < next_tick:
                continue
            next_tick = time.monotonic() + self.interval
            tick = Tick(now)
            for urn, ref in list(subscribers.items()):
                try:
                    ref.tell(tick)
                except pykka.ActorDeadError:
                    del subscribers[urn]
            while not self._once.empty():
                ref, message = self._once.get_nowait()
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(message)


class TickAt:
    """One actor's standing request for a Tick at its earliest due time.

    At most one is asked of the Ticker at a time, for the earliest time asked
    so far; a later time is not asked, since the actor looks for its next due
    time whenever a Tick arrives (`arrived`, then `ask` again).  A Tick can
    come early (the engine's clock skipped ahead, or a due time went away):
    the actor finds nothing due and asks again.
    """

    def __init__(self, ticker: Ticker | None, ref: pykka.ActorRef[Any]) -> None:
        self.ticker = ticker
        self.ref = ref
        #: the time of the Tick on its way (None: none)
        self.asked: float | None = None

    def ask(self, when: float | None) -> None:
        if when is None or self.ticker is None:
            return
        if self.asked is None or when < self.asked:
            self.asked = when
            self.ticker.at(when, self.ref, Tick(when))

    def arrived(self, now: float) -> None:
        if self.asked is not None and self.asked <= now:
            self.asked = None


#: with nobody to tick and nothing timed, the thread still looks this often (a virtual clock may have jumped)
DOZE_SECONDS = 1.0


@attrs.frozen
class _At:
    when: float
    ref: pykka.ActorRef[Any]
    message: Any


@attrs.frozen
class _Subscribe:
    ref: pykka.ActorRef[Any]
    on: bool


@attrs.frozen
class _Wake:
    """A request that only wakes the thread (a `once` while it dozes)."""


_WAKE = _Wake()
_Request = _At | _Subscribe | _Wake
