"""Dispatcher flow control: one send slot per worker, offers withdrawn after the lock-acquisition timeout."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.messages import Offer
from actors.worker import InvocationWorker
from durable import DurableContext, durable_execution
from durable.engine import Engine
from durable.stores.base import ExecutionStatus

pytestmark = pytest.mark.timeout(120)
STALL = 5.0


@durable_execution
def quick(event: int, context: DurableContext) -> int:
    return int(context.step(lambda _: event * 2, name="double"))


class StallingWorker(InvocationWorker):
    """Fault injection: worker-2 blocks its own thread for STALL seconds when its first offer arrives."""

    stalled_until: float = 0.0
    stalled_until_wall: float = 0.0
    started = threading.Event()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Offer) and self.name == "worker-2" and not StallingWorker.started.is_set():
            StallingWorker.started.set()
            StallingWorker.stalled_until = time.monotonic() + STALL
            StallingWorker.stalled_until_wall = time.time() + STALL
            time.sleep(STALL)
        if not isinstance(message, Offer):
            self.invoked_at.append(time.monotonic())
        return super().handle(message)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = args[3]
        self.invoked_at: list[float] = []


class StallingEngine(Engine):
    worker_refs: list[pykka.ActorRef[Any]]

    def _make_worker(self, dispatcher: pykka.ActorRef[Any], serial: int) -> pykka.ActorRef[Any]:
        ref = StallingWorker.start(self.topology, dispatcher, self.invoker, f"worker-{serial}")
        self.worker_refs = [*getattr(self, "worker_refs", []), ref]
        return ref


def test_a_stalled_worker_gets_nothing_while_the_others_run_every_invocation_once(tmp_path: Path) -> None:
    StallingWorker.started.clear()
    with StallingEngine(store=f"sqlite:///{tmp_path / 'd.db'}", functions=[quick], workers=4) as engine:
        ids = [engine.start("quick", n) for n in range(1000)]
        records = [engine.wait(eid, timeout=60) for eid in ids]
        stats = engine.stats()
        stalled = next(r for r in engine.worker_refs if r.proxy().name.get() == "worker-2")
        invoked_at = stalled.proxy().invoked_at.get()
    assert all(r.status is ExecutionStatus.SUCCEEDED for r in records)
    assert [r.result for r in records] == [str(n * 2) for n in range(1000)]
    assert all(r.invocations == 1 for r in records), "every invocation ran exactly once"
    first = records[:8]  # the stalled worker's one offer went to one of these; a backlog would hold it 5 s
    assert max(r.ended or 0 for r in first) < StallingWorker.stalled_until_wall, "none waited for the stall"
    assert all(at >= StallingWorker.stalled_until for at in invoked_at), "nothing ran on the stalled worker"
    per_worker = stats["per_worker"]
    assert per_worker["worker-2"]["requeued"] >= 1, per_worker
    assert stats["requeued"] == sum(w["requeued"] for w in per_worker.values())
    assert sum(w["dispatched"] for w in per_worker.values()) == stats["dispatched"] >= 1000


def test_worker_counters_are_kept_with_the_store_and_drawn_on_the_topology(tmp_path: Path) -> None:
    from durable.stores import open_store

    url = f"sqlite:///{tmp_path / 'd.db'}"
    with Engine(store=url, functions=[quick], workers=2) as engine:
        for n in range(20):
            engine.wait(engine.start("quick", n), timeout=30)
    store = open_store(url)
    try:
        saved = json.loads(store.get_meta("engine.stats") or "{}")
        dot = store.get_meta("topology.dot") or ""
    finally:
        store.close()
    assert sum(w["dispatched"] for w in saved["per_worker"].values()) == saved["dispatched"] == 20
    assert "dispatched" in dot and "requeued 0" in dot


def test_durable_status_engine_shows_the_last_engines_worker_counters(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'd.db'}"
    run = [sys.executable, "-m", "durable.cli", "--store", url, "status", "--engine"]
    cwd = Path(__file__).resolve().parents[2]
    with Engine(store=url, functions=[quick], workers=2) as engine:
        engine.wait(engine.start("quick", 1), timeout=30)
    shown = subprocess.run(run, capture_output=True, text=True, cwd=cwd, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "worker-1" in shown.stdout and "requeued" in shown.stdout
    as_json = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True, cwd=cwd, timeout=60).stdout)
    assert as_json["dispatched"] == 1
    missing = subprocess.run([*run[:-2], "status"], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert missing.returncode == 2 and missing.stderr.startswith("error: status needs")
