"""The actors on their own: group commit, fencing, alarm ordering, timer waves, topology."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pykka
import pytest

from actors.alarm_client import AlarmClient
from actors.alarm_manager import AlarmManager
from actors.checkpoint_writer import CheckpointWriter
from actors.execution_state import ExecutionState
from actors.messages import (
    AlarmCommitted,
    Checkpoint,
    DeleteAlarm,
    FireDueTimers,
    NextAlarm,
    Persist,
    PrepareAlarm,
    Ready,
    ResumeWave,
    ScheduleResume,
    SetAlarm,
    Settle,
    Snapshot,
    Tick,
    WriterStats,
)
from actors.pool import ActorPool
from actors.ticker import DOZE_SECONDS, Ticker
from actors.timer_scheduler import TimerScheduler
from actors.topology import Topology, TrackedActor
from durable.clock import RealClock
from durable.core.callback_ids import CallbackIds
from durable.core.history import HistoryEvent
from durable.core.records import (
    OperationAction,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
    RecordUpdate,
)
from durable.engine import Engine
from durable.exceptions import CheckpointRejectedError
from durable.stores.base import CommitResult, WriteSet
from durable.stores.memory import MemoryStore
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(30)


class GatedStore(MemoryStore):
    """Fault injection: the first commit blocks until the test opens the gate (a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[int] = []

    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(batch))
        return super().commit(batch)


@pytest.fixture
def topology() -> Iterator[Topology]:
    """A topology for the test's actors, which are stopped after it (and only they: not another test's)."""
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    yield Topology()
    for ref in pykka.ActorRegistry.get_all():
        if ref.actor_urn not in before:
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                ref.stop(timeout=5)


def _store_with_execution(store: MemoryStore, execution_id: str = "e1") -> None:
    store.create_execution(execution_id, "f", None, None, None, 0.0, HistoryEvent("ExecutionStarted", 0.0))
    store.begin_invocation(execution_id, 0.0)


def _persist(execution_id: str = "e1", token: int | None = 1, alarm: Any = None) -> tuple[Persist, Any]:
    future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    events = (HistoryEvent("InvocationCompleted", 1.0),)
    if alarm is None:
        return Persist(WriteSet(execution_id, token, events=events), future), future
    return Persist(WriteSet(execution_id, token, events=events, alarm=alarm), future), future


def test_writes_arriving_during_a_commit_share_the_next_transaction(topology: Topology) -> None:
    store = GatedStore()
    _store_with_execution(store)
    writer = CheckpointWriter.start(topology, store, RealClock())
    first, first_future = _persist()
    writer.tell(first)
    assert store.entered.wait(5)
    rest = [_persist() for _ in range(50)]
    for request, _ in rest:
        writer.tell(request)
    store.gate.set()
    assert first_future.get(timeout=5).ok
    assert all(future.get(timeout=5).ok for _, future in rest)
    assert store.batches == [1, 50]
    assert writer.ask(WriterStats()) == 2
    assert [e["EventId"] for e in store.history("e1")] == list(range(1, 53))


def test_a_stale_token_is_rejected_and_changes_nothing(topology: Topology) -> None:
    store = MemoryStore()
    _store_with_execution(store)
    writer = CheckpointWriter.start(topology, store, RealClock())
    request, future = _persist(token=0)
    writer.tell(request)
    with pytest.raises(CheckpointRejectedError, match="fenced"):
        future.get(timeout=5)
    assert len(store.history("e1")) == 1


def test_move_earlier_reaches_the_manager_before_the_commit(topology: Topology) -> None:
    store = GatedStore()
    _store_with_execution(store)
    writer = CheckpointWriter.start(topology, store, RealClock())
    manager = AlarmManager.start(topology, RealClock())
    client = AlarmClient.start(topology, manager, writer, RealClock())
    manager.proxy().connect(Probe.start(topology), client).get()
    writer.proxy().connect(client).get()
    request, future = _persist(alarm=5000.0e6)
    client.tell(PrepareAlarm("e1", 5000.0e6, request))
    assert store.entered.wait(5), "the write reached the store"
    assert manager.ask(NextAlarm()) == 5000.0e6, "the manager had the earlier alarm before the commit finished"
    store.gate.set()
    assert future.get(timeout=5).ok


def test_move_later_and_delete_go_out_after_the_commit_in_order(topology: Topology) -> None:
    store = GatedStore()
    _store_with_execution(store)
    store.gate.set()
    writer = CheckpointWriter.start(topology, store, RealClock())
    manager = AlarmManager.start(topology, RealClock())
    client = AlarmClient.start(topology, manager, writer, RealClock())
    manager.proxy().connect(Probe.start(topology), client).get()
    client.tell(AlarmCommitted("e1", 1000.0e6))
    wait_until(lambda: manager.ask(NextAlarm()) == 1000.0e6, what="the first alarm")
    request, committed = _persist(alarm=2000.0e6)
    client.tell(PrepareAlarm("e1", 2000.0e6, request))
    assert committed.get(timeout=5).ok
    assert manager.ask(NextAlarm()) == 1000.0e6, "a later alarm is not sent before its commit"
    client.tell(AlarmCommitted("e1", 2000.0e6))
    client.tell(AlarmCommitted("e1", None))
    client.tell(AlarmCommitted("e1", 3000.0e6))
    wait_until(lambda: manager.ask(NextAlarm()) == 3000.0e6, what="the newest set to win")


class Probe(TrackedActor):
    """Collects every message it is told."""

    def __init__(self, topology: Topology) -> None:
        super().__init__(topology, "probe")
        self.seen: list[Any] = []

    def handle(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return None


def test_every_timer_due_at_a_tick_comes_in_one_resume_wave(topology: Topology) -> None:
    probe = Probe.start(topology)
    pool = ActorPool(2, "test-timers")
    timers = TimerScheduler.start(topology, pool, probe, "invocation")
    for i in range(300):
        timers.tell(ScheduleResume(f"branch-{i}", 10.0 + (i % 3) * 0.001))
    timers.tell(ScheduleResume("late", 99.0))
    timers.tell(Tick(10.5))
    timers.ask(Tick(11.0))
    waves = cast(list[Any], probe.ask("seen"))
    assert len(waves) == 1 and isinstance(waves[0], ResumeWave)
    assert sorted(waves[0].keys) == sorted(f"branch-{i}" for i in range(300))
    edges = {(a, b): n for a, b, n in topology.edges()}
    assert edges[(timers.actor_urn, probe.actor_urn)] == 1
    assert "TimerScheduler" in topology.to_dot()


class HoldingLink(TrackedActor):
    """Fault injection between the AlarmClient and the manager: DeleteAlarm waits in transit until released."""

    def __init__(self, topology: Topology, manager: Any) -> None:
        super().__init__(topology, "link")
        self.manager = manager
        self.held: list[Any] = []
        self.received: list[Any] = []

    def handle(self, message: Any) -> Any:
        if message == "received":
            return list(self.received)
        if message == "release":
            for held in self.held:
                self.send(self.manager, held)
            self.held.clear()
            return None
        self.received.append(message)
        if isinstance(message, DeleteAlarm):
            self.held.append(message)
        else:
            self.send(self.manager, message)
        return None


def test_a_delayed_delete_cannot_erase_a_newer_set(topology: Topology) -> None:
    """The race: a deferred delete still in transit when a newer set is made must not win."""
    store = GatedStore()
    _store_with_execution(store)
    store.gate.set()
    writer = CheckpointWriter.start(topology, store, RealClock())
    manager = AlarmManager.start(topology, RealClock())
    link = HoldingLink.start(topology, manager)
    client = AlarmClient.start(topology, link, writer, RealClock())
    manager.proxy().connect(Probe.start(topology), client).get()
    client.tell(AlarmCommitted("e1", 1000.0e6))
    wait_until(lambda: manager.ask(NextAlarm()) == 1000.0e6, what="the first alarm")
    client.tell(AlarmCommitted("e1", None))
    request, committed = _persist(alarm=500.0e6)
    client.tell(PrepareAlarm("e1", 500.0e6, request))
    client.ask(Tick(0.0))
    sent = cast(list[Any], link.ask("received"))
    assert [type(m).__name__ for m in sent] == ["SetAlarm", "DeleteAlarm"], "the newer set waits for the delete"
    with pytest.raises(pykka.Timeout):
        committed.get(timeout=0)  # and so does the commit it protects
    link.tell("release")
    assert committed.get(timeout=5).ok
    client.tell(AlarmCommitted("e1", 500.0e6))
    wait_until(lambda: manager.ask(NextAlarm()) == 500.0e6, what="the newer set to be in place")
    client.ask(Tick(0.0))
    assert manager.ask(NextAlarm()) == 500.0e6


def test_the_manager_ignores_an_update_older_than_the_last_it_applied(topology: Topology) -> None:
    manager = AlarmManager.start(topology, RealClock())
    manager.tell(SetAlarm("e1", 500.0e6, seq=3))
    manager.tell(DeleteAlarm("e1", seq=2))
    manager.tell(SetAlarm("e1", 900.0e6, seq=1))
    assert manager.ask(NextAlarm()) == 500.0e6
    manager.tell(DeleteAlarm("e1", seq=4))
    manager.tell(SetAlarm("e1", 700.0e6, seq=3))
    assert manager.ask(NextAlarm()) is None, "a stale set after a delete stays ignored"


def test_skipping_time_waits_behind_the_dispatchers_news_that_work_arrived(topology: Topology) -> None:
    from actors.messages import DispatcherIdle, SetAlarm, SkipTime
    from durable.clock import VirtualClock

    clock = VirtualClock()
    far = clock.now() + 86400
    manager = AlarmManager.start(topology, clock, next_timer=lambda eid: far)
    probe = Probe.start(topology)
    manager.proxy().connect(probe, probe).get()
    manager.tell(SetAlarm("e1", far, 1))
    manager.tell(DispatcherIdle(False))  # work was handed over before the runner switched skipping on
    manager.tell(SkipTime(True))
    assert manager.ask(NextAlarm()) == far and clock.now() < far - 3600, "a busy engine never skips"
    manager.tell(DispatcherIdle(True))
    wait_until(lambda: clock.now() >= far, what="an idle engine to jump to the alarm")
    manager.tell(SkipTime(False))


def test_an_alarm_fires_at_its_due_time_not_at_the_next_regular_tick(topology: Topology) -> None:
    clock = RealClock()
    dispatcher, client = Probe.start(topology), Probe.start(topology)
    manager = AlarmManager.start(topology, clock)
    ticker = Ticker(clock, [manager], interval=60.0)
    manager.proxy().connect(dispatcher, client, ticker).get()
    ticker.start()
    try:
        due = clock.now() + 0.2
        manager.tell(SetAlarm("e1", due, 1))

        def readies() -> list[Any]:
            return [m for m in cast(list[Any], dispatcher.ask("seen")) if isinstance(m, Ready)]

        wait_until(readies, timeout=10, what="the alarm to fire well before the 60 s tick")
        assert clock.now() >= due
        assert readies() == [Ready(("e1",), alarm=True)]
    finally:
        ticker.stop()


def test_a_dozing_ticker_still_delivers_a_once_message_after_one_interval(topology: Topology) -> None:
    """With nobody to tick the Ticker sleeps for seconds; a `once` wakes it, and still waits one interval
    (so unwaited checkpoints keep gathering), not the whole doze."""
    probe = Probe.start(topology)
    ticker = Ticker(RealClock(), [], interval=0.05)
    ticker.start()
    try:
        wait_until(lambda: ticker._dozing, what="the ticker to doze")
        asked = time.monotonic()
        ticker.once(probe, "flush")
        wait_until(lambda: probe.ask("seen") == ["flush"], timeout=DOZE_SECONDS / 2, what="the once message")
        assert time.monotonic() - asked >= 0.04, "it waited an interval"
    finally:
        ticker.stop()


def test_an_idle_engine_ticks_none_of_its_actors(tmp_path: Path) -> None:
    """The Dispatcher, AlarmManager and AlarmClient are told a Tick only at a due time of theirs: an engine
    with nothing to do handles no messages at all (it used to handle 300 a second)."""
    with Engine(store=f"sqlite:///{tmp_path / 'idle.db'}") as engine:
        engine.dispatcher.ask(Settle(pykka.ThreadingFuture()))

        def handled() -> dict[str, int]:
            return {info.kind: info.gauge.handled for info in engine.topology.actors()
                    if info.kind in ("Dispatcher", "AlarmManager", "AlarmClient") and info.gauge is not None}

        before = handled()
        assert len(before) == 3
        threading.Event().wait(0.3)  # the window observed, not a synchronisation
        assert handled() == before


def test_a_wave_waits_for_the_writes_queued_before_it_and_its_ready_records_ride_with_the_next(
    topology: Topology,
) -> None:
    """A wave whose polls only turn READY writes nothing of its own, yet it is answered only once what
    was queued before it has committed: the branches it resumes can never outrun the writer."""
    store = GatedStore()
    _store_with_execution(store)
    clock = RealClock()
    now = clock.now()
    poll = OperationRecord(
        "e1-1", OperationType.STEP, OperationStatus.PENDING, sub_type=OperationSubType.WAIT_FOR_CONDITION,
        attempt=1, next_attempt_timestamp=now - 1, start_timestamp=now - 3,
    )
    writer = CheckpointWriter.start(topology, store, clock)
    idle_ticker = Ticker(clock, [])  # never started: the queued write leaves only with the wave
    pool = ActorPool(2, name="test-state")
    try:
        state = ExecutionState.start(
            topology, pool, "e1", 1, [poll], None, clock, writer, writer, store, CallbackIds(b"k" * 16), idle_ticker,
        )
        state.tell(Checkpoint((RecordUpdate("e1-2", OperationType.STEP, OperationAction.START, name="s"),)))
        wave: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        state.tell(FireDueTimers(wave))
        assert store.entered.wait(5), "the wave sent what was queued to the writer"
        with pytest.raises(pykka.Timeout):
            wave.get(timeout=0.2)
        store.gate.set()
        assert wave.get(timeout=5).ok
        assert store.get_operation("e1", "e1-2") is not None, "the queued write committed before the answer"
        stored_poll = store.get_operation("e1", "e1-1")
        assert stored_poll is None or stored_poll.status is OperationStatus.PENDING, "READY was not written alone"
        snapshot = cast(dict[str, OperationRecord], state.ask(Snapshot(), timeout=5))
        assert snapshot["e1-1"].status is OperationStatus.READY
    finally:
        pool.shutdown()
