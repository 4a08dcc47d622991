"""Pooled actors: each keeps its own mailbox order, no two threads drain one actor, threads stay bounded."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors import pool as pool_module
from actors.pool import ActorPool, BorrowingActor, PooledActor, about_to_wait
from actors.topology import Topology

pytestmark = pytest.mark.timeout(60)


class Recorder(PooledActor):
    """Records every number it gets and notices any overlap between two draining threads."""

    def __init__(self, topology: Topology, pool: ActorPool) -> None:
        super().__init__(topology, pool, "recorder")
        self.seen: list[tuple[int, int]] = []
        self.busy = False
        self.overlaps = 0

    def handle(self, message: Any) -> Any:
        if message == "report":
            return list(self.seen), self.overlaps
        if self.busy:
            self.overlaps += 1
        self.busy = True
        self.seen.append(message)
        self.busy = False
        return None


@pytest.fixture
def pool() -> Iterator[ActorPool]:
    """A pool for one test; each test stops the pooled actors it starts (they are not in pykka's registry)."""
    pool = ActorPool(size=8, name="test-pool")
    yield pool
    pool.shutdown()


def test_many_pooled_actors_keep_per_sender_order_on_a_few_threads(pool: ActorPool) -> None:
    topology = Topology()
    threads_before = threading.active_count()
    actors = [Recorder.start(topology, pool) for _ in range(500)]
    assert threading.active_count() <= threads_before, "a pooled actor starts no thread"

    def send(sender: int) -> None:
        for n in range(200):
            for ref in actors[sender::4]:
                ref.tell((sender, n))

    senders = [threading.Thread(target=send, args=(s,)) for s in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    for index, ref in enumerate(actors):
        seen, overlaps = ref.ask("report")
        assert overlaps == 0
        sender = index % 4
        assert seen == [(sender, n) for n in range(200)]
    assert threading.active_count() <= threads_before
    for ref in actors:
        ref.stop()
    assert not pykka.ActorRegistry.get_by_class(Recorder), "pooled actors stay out of pykka's registry"


def test_a_stopped_pooled_actor_refuses_messages(pool: ActorPool) -> None:
    ref = Recorder.start(Topology(), pool)
    ref.tell((0, 1))
    ref.stop()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell((0, 2))


class ThreadNoter(BorrowingActor):
    """Answers each message with the name of the thread that handled it."""

    def __init__(self, topology: Topology, pool: ActorPool) -> None:
        super().__init__(topology, pool, "noter")

    def handle(self, message: Any) -> Any:
        return threading.current_thread().name


def _handled_on(ref: pykka.ActorRef[Any], waiting: bool) -> str:
    with about_to_wait() if waiting else contextlib.nullcontext():
        future = ref.ask("which thread?", block=False)
    return str(future.get(timeout=5))


def test_a_borrowing_actor_runs_on_a_waiting_senders_thread_and_on_its_pool_otherwise(pool: ActorPool) -> None:
    ref = ThreadNoter.start(Topology(), pool)
    try:
        assert _handled_on(ref, waiting=True) == threading.current_thread().name
        assert _handled_on(ref, waiting=False).startswith("test-pool-")
    finally:
        ref.stop()


def test_a_waiting_sender_lends_its_thread_once_and_a_backlog_goes_to_the_pool(pool: ActorPool) -> None:
    ref = ThreadNoter.start(Topology(), pool)
    me = threading.current_thread().name
    try:
        with about_to_wait():
            futures = [ref.ask(n, block=False) for n in range(3 * ThreadNoter.turn)]
        names = [str(f.get(timeout=5)) for f in futures]
        assert names[: ThreadNoter.turn] == [me] * ThreadNoter.turn
        assert all(name.startswith("test-pool-") for name in names[ThreadNoter.turn:])
    finally:
        ref.stop()


class Waiter(PooledActor):
    """On a pool thread, waits for another pooled actor on the same pool to answer, as a nested map's caller does."""

    def __init__(self, topology: Topology, pool: ActorPool, other: pykka.ActorRef[Any]) -> None:
        super().__init__(topology, pool, "waiter")
        self.other = other

    def handle(self, message: Any) -> Any:
        answer: pykka.Future[Any] = self.other.ask(message, block=False)
        with self.pool.stand_in():
            return answer.get(timeout=30)


def test_a_pool_thread_waiting_on_its_own_pool_gets_a_stand_in_that_retires_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "IDLE_RETIRE_SECONDS", 0.2)
    pool = ActorPool(size=1, name="test-stand-in", elastic=False)
    topology = Topology()
    recorder = Recorder.start(topology, pool)
    waiter = Waiter.start(topology, pool, recorder)
    try:
        assert waiter.ask("report", timeout=30) == ([], 0), "the one pool thread waits; a stand-in ran the recorder"
        assert _eventually(lambda: _threads_named("test-stand-in") == 1), "the stand-in retires once idle"
    finally:
        waiter.stop()
        recorder.stop()
        pool.shutdown()


class Meeter(PooledActor):
    """Waits at a barrier that only opens once every Meeter is running at the same time."""

    def __init__(self, topology: Topology, pool: ActorPool, barrier: threading.Barrier) -> None:
        super().__init__(topology, pool, "meeter")
        self.barrier = barrier

    def handle(self, message: Any) -> Any:
        return self.barrier.wait() >= 0


def test_a_pool_whose_threads_are_all_held_grows_until_the_waiting_work_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "IDLE_RETIRE_SECONDS", 0.2)
    pool = ActorPool(size=2, name="test-elastic")
    topology = Topology()
    barrier = threading.Barrier(6, timeout=20)
    meeters = [Meeter.start(topology, pool, barrier) for _ in range(6)]
    try:
        answers = [ref.ask("meet", block=False) for ref in meeters]
        assert all(answer.get(timeout=30) for answer in answers), "all six ran at once on a pool of two"
        assert _eventually(lambda: _threads_named("test-elastic-") == 2), "the added threads retire once idle"
    finally:
        for ref in meeters:
            ref.stop()
        pool.shutdown()


def _threads_named(prefix: str) -> int:
    return sum(t.name.startswith(prefix) and not t.name.endswith("watch") for t in threading.enumerate())


def _eventually(condition: Any, seconds: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return bool(condition())
