"""Races shaken out: map and parallel, callbacks and the actor pool with a thread switch every microsecond.

`sys.setswitchinterval(1e-6)` makes CPython hand the GIL over as often as it
can, so state written from two threads without one owner shows up as wrong
counts, lost messages or overlapping drains.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from actors.pool import ActorPool
from actors.topology import Topology
from durable import DurableContext, durable_execution
from durable.config import Duration, MapConfig
from durable.engine import Engine
from durable.exceptions import CallbackConflictError
from durable.lambda_service import InvocationStatus
from durable.stores.base import ExecutionStatus
from durable.testing import DurableFunctionTestRunner
from tests.conftest import open_callback
from tests.unit.test_pool import Recorder
from tests.workflows import approval

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@durable_execution
def fan_out(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    def item(ctx: DurableContext, value: int, index: int, _items: Sequence[int]) -> int:
        ctx.wait(Duration.from_seconds(1 + index % 3))
        return ctx.step(lambda _: value * value, name="square")

    squares = context.map(event["items"], item, config=MapConfig(max_concurrency=7)).get_results()
    pair = context.parallel([lambda c: c.step(lambda _: 1), lambda c: c.step(lambda _: 2)]).get_results()
    return {"squares": squares, "pair": pair}


def test_map_and_parallel_keep_every_result() -> None:
    items = list(range(60))
    with DurableFunctionTestRunner(fan_out) as runner:
        result = runner.run(input={"items": items}, timeout=60)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "") == {"squares": [i * i for i in items], "pair": [1, 2]}


def test_racing_callback_completions_apply_exactly_one(tmp_path: Any) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'races.db'}", functions=[approval]) as engine:
        executions = [engine.start("approval") for _ in range(5)]
        for eid in executions:
            callback_id = open_callback(engine, eid, timeout=30)

            def complete(n: int, callback_id: str = callback_id) -> int | None:
                try:
                    engine.send_callback_success(callback_id, json.dumps(n))
                except CallbackConflictError:
                    return None
                return n

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                winners = [n for n in pool.map(complete, range(16)) if n is not None]
            assert len(winners) == 1
            record = engine.wait(eid, timeout=30)
            assert record.status is ExecutionStatus.SUCCEEDED
            assert json.loads(record.result or "") == {"approved": winners[0]}


def test_pooled_actors_never_drain_twice_and_the_topology_counts_every_send() -> None:
    pool = ActorPool(size=8, name="race-pool")
    topology = Topology()
    try:
        actors = [Recorder.start(topology, pool) for _ in range(50)]

        def send(sender: int) -> None:
            for n in range(100):
                for ref in actors[sender::4]:
                    topology.tell(ref, (sender, n))

        senders = [threading.Thread(target=send, args=(s,)) for s in range(4)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        for index, ref in enumerate(actors):
            seen, overlaps = ref.ask("report")
            assert overlaps == 0
            assert seen == [(index % 4, n) for n in range(100)]
        counted = sum(count for source, _target, count in topology.edges() if source == "caller")
        assert counted == 50 * 100
        for ref in actors:
            ref.stop()
    finally:
        pool.shutdown()
        topology.close()
