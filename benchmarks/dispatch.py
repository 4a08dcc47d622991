"""Dispatch throughput with 4 workers (healthy, and with one stalled), and alarm lateness with 10,000 alarms.

Throughput: N executions of a one-step handler started at once on a real
SQLite engine; invocations per second from the first start to the last end.
The stalled variant blocks worker-2's thread for the whole run (fault
injection): its first offer is withdrawn after the 250 ms lock-acquisition
timeout and the other three carry the load.

Alarm lateness: 10,000 alarms spread over two seconds are armed in a real
AlarmManager ticking every 10 ms; lateness is the time from an alarm's due
moment to the Ready message that wakes its execution.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import pykka

from actors.alarm_manager import AlarmManager
from actors.messages import Offer, Ready, SetAlarm
from actors.ticker import Ticker
from actors.topology import Topology, TrackedActor
from actors.worker import InvocationWorker
from benchmarks.common import percentile, print_table
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution
from durable.clock import RealClock
from durable.engine import Engine


@durable_execution
def one_step(event: int, context: DurableContext) -> int:
    return int(context.step(lambda _: event + 1, name="add"))


class StalledWorker(InvocationWorker):
    """worker-2 never gets past its first offer while the benchmark runs."""

    def handle(self, message: Any) -> Any:
        if isinstance(message, Offer) and self.actor_urn == STALLED.get("urn"):
            time.sleep(STALLED["seconds"])
        return super().handle(message)


STALLED: dict[str, Any] = {}


class StallingEngine(Engine):
    def _make_worker(self, dispatcher: pykka.ActorRef[Any], serial: int) -> pykka.ActorRef[Any]:
        ref = StalledWorker.start(self.topology, dispatcher, self.invoker, f"worker-{serial}")
        if serial == 2:
            STALLED["urn"] = ref.actor_urn
        return ref


def throughput(count: int, stalled: bool) -> list[Any]:
    STALLED.clear()
    STALLED["seconds"] = 3600.0 if stalled else 0.0
    kind = StallingEngine if stalled else Engine
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder:
        engine = kind(store=f"sqlite:///{Path(folder) / 'bench.db'}", functions=[one_step], workers=4)
        try:
            began = time.perf_counter()
            ids = [engine.start("one_step", n) for n in range(count)]
            for execution_id in ids:
                engine.wait(execution_id, timeout=600)
            took = time.perf_counter() - began
            stats = engine.stats()
        finally:
            STALLED["seconds"] = 0.0
            engine.close()
    label = "4 workers, one stalled" if stalled else "4 workers, healthy"
    slowest = max((w["send_p99_ms"] or 0) for w in stats["per_worker"].values())
    return [label, count, count / took, stats["requeued"], slowest]


class ReadyProbe(TrackedActor):
    def __init__(self, topology: Topology, dues: dict[str, float]) -> None:
        super().__init__(topology, "probe")
        self.dues = dues
        self.lateness: list[float] = []

    def handle(self, message: Any) -> Any:
        if isinstance(message, Ready):
            now = time.time()
            self.lateness.extend(now - self.dues[eid] for eid in message.execution_ids)
        elif message == "report":
            return list(self.lateness)
        return None


def alarm_lateness(count: int) -> list[Any]:
    topology = Topology()
    start = time.time() + 0.5
    dues = {f"e{i}": start + 2.0 * i / count for i in range(count)}
    probe = ReadyProbe.start(topology, dues)
    manager = AlarmManager.start(topology, RealClock())
    manager.proxy().connect(probe, probe).get()
    for seq, (eid, due) in enumerate(dues.items(), start=1):
        manager.tell(SetAlarm(eid, due, seq))
    ticker = Ticker(RealClock(), [manager], 0.01)
    ticker.start()
    def report() -> list[float]:
        return cast(list[float], probe.ask("report"))

    deadline = time.monotonic() + 30
    while len(report()) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    ticker.stop()
    lateness = [1000 * x for x in report()]
    for ref in (manager, probe):
        ref.stop()
    return [f"{count:,} armed alarms", len(lateness), percentile(lateness, 50), percentile(lateness, 99)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invocations", type=int, default=1000)
    parser.add_argument("--alarms", type=int, default=10_000)
    args = parser.parse_args(argv)
    rows = [throughput(args.invocations, stalled=False), throughput(args.invocations, stalled=True)]
    print_table(["scenario", "invocations", "invocations/s", "requeued on timeout", "worst send p99 ms"], rows)
    print()
    print_table(["alarms", "fired", "lateness p50 ms", "lateness p99 ms"], [alarm_lateness(args.alarms)])


if __name__ == "__main__":
    with host_noted():
        main()
