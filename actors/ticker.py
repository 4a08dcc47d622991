"""Ticker: the engine's one source of time passing.

A plain daemon thread (not an actor: it owns nothing and takes no messages)
that tells `Tick(now)` to its subscribers every `interval` seconds, and
delivers the one-shot messages asked of it with `once` at the next tick,
and those asked with `at` when the clock reaches their time (so an alarm
fires on time, not up to a tick late).  Timers are data in the actors; this
thread only nudges them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import queue
import threading
import time
from typing import Any

import pykka

from actors.pool import keep_this_thread_free
from durable.clock import Clock


class Ticker:
    def __init__(self, clock: Clock, subscribers: list[pykka.ActorRef[Any]], interval: float = 0.01) -> None:
        self.clock = clock
        self.subscribers: dict[str, pykka.ActorRef[Any]] = {ref.actor_urn: ref for ref in subscribers}
        self.interval = interval
        self._once: queue.SimpleQueue[tuple[pykka.ActorRef[Any], Any]] = queue.SimpleQueue()
        #: `at` requests, and None to stop; the thread sleeps on this queue, so a request wakes it
        self._at: queue.SimpleQueue[tuple[float, pykka.ActorRef[Any], Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="durable-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def subscribe(self, ref: pykka.ActorRef[Any]) -> None:
        """Tick `ref` too.  Copy-on-write: the ticking thread always sees a whole dict."""
        self.subscribers = {**self.subscribers, ref.actor_urn: ref}

    def unsubscribe(self, ref: pykka.ActorRef[Any]) -> None:
        self.subscribers = {urn: r for urn, r in self.subscribers.items() if urn != ref.actor_urn}

    def once(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Tell `ref` `message` at the next tick (callable from any thread; costs the caller no hand-off)."""
        self._once.put((ref, message))

    def at(self, when: float, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Tell `ref` `message` once the clock reads `when` (callable from any thread)."""
        self._at.put((when, ref, message))

    def stop(self) -> None:
        self._at.put(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        from actors.messages import Tick

        keep_this_thread_free()
        timed: list[tuple[float, int, pykka.ActorRef[Any], Any]] = []
        order = itertools.count()
        next_tick = time.monotonic() + self.interval
        while True:
            sleep = next_tick - time.monotonic()
            if timed:
                sleep = min(sleep, timed[0][0] - self.clock.now())
            try:
                request = self._at.get(timeout=max(0.0, sleep))
            except queue.Empty:
                pass
            else:
                if request is None:
                    return
                when, ref, message = request
                heapq.heappush(timed, (when, next(order), ref, message))
            now = self.clock.now()
            while timed and timed[0][0] <= now:
                _, _, ref, message = heapq.heappop(timed)
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(message)
            if time.monotonic() < next_tick:
                continue
            next_tick = time.monotonic() + self.interval
            tick = Tick(now)
            for ref in list(self.subscribers.values()):
                try:
                    ref.tell(tick)
                except pykka.ActorDeadError:
                    self.unsubscribe(ref)
            while not self._once.empty():
                ref, message = self._once.get_nowait()
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(message)
