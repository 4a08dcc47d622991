"""The ordering rules of alarm updates, as a pure state machine (no threads, no clock).

The AlarmClient actor feeds it events and carries out the effects it returns;
a simulation in the tests feeds it the same events with a manager that
delays, reorders, duplicates and fails requests.

Per execution the updates form one chain, and at most one of them is in
flight: the next leaves only when the manager has acknowledged the previous
one.  So however the transport reorders requests, the manager applies one
execution's updates in the order they were made.  Every update carries a
sequence number, and the manager ignores one older than what it last
applied: a request that was given up on and retried cannot land after a
newer one (the race of a deferred delete erasing a newer set).

- A move earlier (`prepare` with a due earlier than what the chain will
  leave the manager holding) joins the chain and holds the write that needs
  it; the write is released when that update is sent, so it goes out before
  the commit and after any pending later-updates.
- Anything else (`committed`: a move later, a delete, or a set that the
  manager does not hold yet) joins the chain after the commit.
- A failed send is retried with backoff; after `MAX_ATTEMPTS` the chain
  asks for a resync: the actor re-reads the stored alarm (the truth) and
  starts over from it, so a long manager outage delays the alarm but never
  loses it.
"""

from __future__ import annotations

import collections
from typing import Any

import attrs

MAX_ATTEMPTS = 6
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0


@attrs.frozen(slots=True)
class SendUpdate:
    """Send this update to the manager: set the alarm to `due`, or delete it (`due` None)."""

    execution_id: str
    due: float | None
    seq: int


@attrs.frozen(slots=True)
class Release:
    """The write that waited for its move-earlier may go to the store now."""

    write: Any


@attrs.frozen(slots=True)
class RetryAfter:
    """Call `retry(execution_id, seq)` after `delay` seconds."""

    execution_id: str
    seq: int
    delay: float


@attrs.frozen(slots=True)
class Resync:
    """Retries are exhausted: read the stored alarm and call `resync(execution_id, stored)`."""

    execution_id: str


Effect = SendUpdate | Release | RetryAfter | Resync


@attrs.define(slots=True)
class _Update:
    due: float | None
    held: list[Any] = attrs.field(factory=list)
    seq: int = 0  # given when sent, so sequence numbers follow the order updates reach the manager
    attempts: int = 0


@attrs.define(slots=True)
class _Chain:
    told: float | None = None  # what the manager holds, as far as acknowledgements tell
    inflight: _Update | None = None
    queue: collections.deque[_Update] = attrs.field(factory=collections.deque)

    def target(self) -> float | None:
        """What the manager will hold once everything queued is applied."""
        if self.queue:
            return self.queue[-1].due
        if self.inflight is not None:
            return self.inflight.due
        return self.told

    def idle(self) -> bool:
        return self.inflight is None and not self.queue


class AlarmChains:
    def __init__(self) -> None:
        self.chains: dict[str, _Chain] = {}
        self.next_seq = 0

    def prepare(self, execution_id: str, due: float | None, write: Any) -> list[Effect]:
        """Before a commit that sets the stored alarm to `due`: a move earlier goes out first."""
        chain = self._chain(execution_id)
        target = chain.target()
        if due is None or target is None or target > due:
            return [Release(write)] if due is None else self._enqueue(execution_id, chain, due, [write])
        if chain.queue:
            chain.queue[-1].held.append(write)  # covered by an update not sent yet: leave with it
            return []
        return [Release(write)]

    def committed(self, execution_id: str, due: float | None) -> list[Effect]:
        """After a commit set the stored alarm to `due` (None: deleted)."""
        chain = self._chain(execution_id)
        if chain.target() == due:
            return self._forget_if_idle(execution_id, chain, [])
        return self._enqueue(execution_id, chain, due, [])

    def acked(self, execution_id: str, seq: int) -> list[Effect]:
        chain = self.chains.get(execution_id)
        if chain is None or chain.inflight is None or chain.inflight.seq != seq:
            return []
        chain.told = chain.inflight.due
        chain.inflight = None
        return self._forget_if_idle(execution_id, chain, self._pump(execution_id, chain))

    def failed(self, execution_id: str, seq: int) -> list[Effect]:
        chain = self.chains.get(execution_id)
        if chain is None or chain.inflight is None or chain.inflight.seq != seq:
            return []
        update = chain.inflight
        if update.attempts >= MAX_ATTEMPTS:
            return [Resync(execution_id)]
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (update.attempts - 1))
        return [RetryAfter(execution_id, seq, delay)]

    def retry(self, execution_id: str, seq: int) -> list[Effect]:
        chain = self.chains.get(execution_id)
        if chain is None or chain.inflight is None or chain.inflight.seq != seq:
            return []
        chain.inflight.attempts += 1
        return [SendUpdate(execution_id, chain.inflight.due, seq)]

    def resync(self, execution_id: str, stored: float | None) -> list[Effect]:
        """Replace the update that kept failing with the stored alarm (the truth); what queued behind it stays."""
        chain = self._chain(execution_id)
        chain.inflight, chain.told = None, None
        chain.queue.appendleft(_Update(stored))
        return self._pump(execution_id, chain)

    def fired(self, execution_id: str, due: float) -> list[Effect]:
        """The manager let the alarm go: it holds none for this execution now."""
        chain = self.chains.get(execution_id)
        if chain is not None and chain.told == due:
            chain.told = None
            return self._forget_if_idle(execution_id, chain, [])
        return []

    def _enqueue(self, execution_id: str, chain: _Chain, due: float | None, held: list[Any]) -> list[Effect]:
        chain.queue.append(_Update(due, held))
        return self._pump(execution_id, chain)

    def _pump(self, execution_id: str, chain: _Chain) -> list[Effect]:
        if chain.inflight is not None or not chain.queue:
            return []
        update = chain.queue.popleft()
        self.next_seq += 1
        update.seq, update.attempts = self.next_seq, 1
        chain.inflight = update
        effects: list[Effect] = [SendUpdate(execution_id, update.due, update.seq)]
        effects.extend(Release(write) for write in update.held)
        update.held = []
        return effects

    def _chain(self, execution_id: str) -> _Chain:
        chain = self.chains.get(execution_id)
        if chain is None:
            chain = self.chains[execution_id] = _Chain()
        return chain

    def _forget_if_idle(self, execution_id: str, chain: _Chain, effects: list[Effect]) -> list[Effect]:
        if chain.idle() and chain.told is None:
            del self.chains[execution_id]
        return effects
