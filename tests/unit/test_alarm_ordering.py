"""Alarm updates against a manager that delays, reorders, duplicates and fails requests.

A simulation drives the AlarmClient's ordering rules (`actors.alarm_chain`)
with a manager of its own: requests sit in transit until hypothesis picks
one to deliver, fail (the manager may still apply it later, as after a
timeout) or duplicate.  The engine side commits new alarms (set, move
earlier, move later, delete), some of whose commits fail, and reacts to
every fire as the engine does: a due alarm is handled, an early one re-armed.

Whenever a write goes to the store, the alarm it sets is already covered by
an update sent to the manager (a move earlier leaves before the commit).
After quiescence, for every execution: the manager's alarm is never later
than the stored one and never missing while one is stored; then every
stored alarm fires.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.alarm_chain import AlarmChains, Effect, Release, Resync, RetryAfter, SendUpdate

pytestmark = pytest.mark.timeout(600)
EXECUTIONS = ("a", "b", "c")
EXAMPLES = int(os.environ.get("DURABLE_ALARM_EXAMPLES", "10000"))


@attrs.define
class Write:
    execution_id: str
    due: float | None
    fails: bool


@attrs.define
class World:
    """The store, the manager and the transport between them, with the client's rules in the middle."""

    chains: AlarmChains = attrs.field(factory=AlarmChains)
    now: float = 0.0
    stored: dict[str, float | None] = attrs.field(factory=dict)
    manager: dict[str, float] = attrs.field(factory=dict)
    applied: dict[str, int] = attrs.field(factory=dict)
    transit: list[SendUpdate] = attrs.field(factory=list)
    writes: list[Write] = attrs.field(factory=list)
    retries: list[RetryAfter] = attrs.field(factory=list)
    resyncs: list[str] = attrs.field(factory=list)
    handled: set[str] = attrs.field(factory=set)
    last_sent: dict[str, float | None] = attrs.field(factory=dict)

    def run(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case SendUpdate():
                    self.transit.append(effect)
                    self.last_sent[effect.execution_id] = effect.due
                case Release(write):
                    self._check_covered(write)
                    self.writes.append(write)
                case RetryAfter():
                    self.retries.append(effect)
                case Resync(execution_id):
                    self.resyncs.append(execution_id)

    def _check_covered(self, write: Write) -> None:
        """A write that sets an alarm goes to the store only once an update covering it has been sent."""
        if write.due is None:
            return
        held = self.manager.get(write.execution_id)
        sent = self.last_sent.get(write.execution_id)
        covered = (held is not None and held <= write.due) or (sent is not None and sent <= write.due)
        assert covered, f"{write.execution_id}: alarm {write.due} went to the store before any update covering it"

    def engine_commits(self, execution_id: str, due: float | None, fails: bool) -> None:
        self.run(self.chains.prepare(execution_id, due, Write(execution_id, due, fails)))

    def commit_next_write(self) -> None:
        write = self.writes.pop(0)
        if write.fails:
            return
        self.stored[write.execution_id] = write.due
        self.run(self.chains.committed(write.execution_id, write.due))

    def deliver(self, index: int, keep_copy: bool) -> None:
        send = self.transit[index] if keep_copy else self.transit.pop(index)
        last = self.applied.get(send.execution_id, 0)
        if send.seq > last:
            self.applied[send.execution_id] = send.seq
            if send.due is None:
                self.manager.pop(send.execution_id, None)
            else:
                self.manager[send.execution_id] = send.due
        self.run(self.chains.acked(send.execution_id, send.seq))

    def fail(self, index: int, applied_anyway: bool) -> None:
        send = self.transit[index] if applied_anyway else self.transit.pop(index)
        self.run(self.chains.failed(send.execution_id, send.seq))

    def retry_next(self) -> None:
        retry = self.retries.pop(0)
        self.run(self.chains.retry(retry.execution_id, retry.seq))

    def resync_next(self) -> None:
        execution_id = self.resyncs.pop(0)
        self.run(self.chains.resync(execution_id, self.stored.get(execution_id)))

    def fire_due(self) -> None:
        for execution_id, due in sorted(self.manager.items()):
            if due > self.now:
                continue
            del self.manager[execution_id]
            self.run(self.chains.fired(execution_id, due))
            stored = self.stored.get(execution_id)
            if stored is not None and stored <= self.now:
                self.handled.add(execution_id)
                self.engine_commits(execution_id, None, fails=False)
            else:
                self.engine_commits(execution_id, stored, fails=False)

    def settle(self) -> None:
        """No more faults: deliver, retry, resync and commit until nothing moves."""
        for _ in range(10_000):
            if self.writes:
                self.commit_next_write()
            elif self.transit:
                self.deliver(0, keep_copy=False)
            elif self.retries:
                self.retry_next()
            elif self.resyncs:
                self.resync_next()
            else:
                return
        raise AssertionError("the alarm updates never settled")


dues = st.one_of(st.none(), st.integers(min_value=1, max_value=20).map(float))
steps = st.one_of(
    st.tuples(st.just("commit"), st.sampled_from(EXECUTIONS), dues, st.booleans()),
    st.tuples(st.just("write"), st.integers(0, 3)),
    st.tuples(st.just("deliver"), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("fail"), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("retry"), st.integers(0, 3)),
    st.tuples(st.just("resync"), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.integers(0, 5)),
)


def play(world: World, step: tuple[Any, ...]) -> None:
    match step:
        case ("commit", execution_id, due, fails):
            world.engine_commits(execution_id, due, fails)
        case ("write", _) if world.writes:
            world.commit_next_write()
        case ("deliver", index, keep_copy) if world.transit:
            world.deliver(index % len(world.transit), keep_copy)
        case ("fail", index, applied_anyway) if world.transit:
            world.fail(index % len(world.transit), applied_anyway)
        case ("retry", _) if world.retries:
            world.retry_next()
        case ("resync", _) if world.resyncs:
            world.resync_next()
        case ("tick", seconds):
            world.now += seconds
            world.fire_due()


@settings(max_examples=EXAMPLES)
@given(st.lists(steps, max_size=60))
def test_after_quiescence_the_manager_is_never_later_and_every_stored_alarm_fires(script: list[Any]) -> None:
    world = World()
    for step in script:
        play(world, step)
    world.settle()
    for execution_id in EXECUTIONS:
        stored = world.stored.get(execution_id)
        if stored is not None:
            held = world.manager.get(execution_id)
            assert held is not None, f"{execution_id}: stored alarm {stored} but the manager has none"
            assert held <= stored, f"{execution_id}: the manager's {held} is later than the stored {stored}"
    waiting = {e for e in EXECUTIONS if world.stored.get(e) is not None}
    for _ in range(50):
        world.now += 25
        world.fire_due()
        world.settle()
    assert waiting <= world.handled, f"stored alarms that never fired: {waiting - world.handled}"
