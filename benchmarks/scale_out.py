"""Many engines on one PostgreSQL database: throughput, claim latency and failover.

- throughput: 2,000 executions of 10 trivial steps, written first by a
  process that runs nothing; then 1, 2 or 4 `durable worker` processes (4
  worker threads each) run them.  The clock starts when every worker has
  joined, and only the work done after that counts.  The same load on SQLite
  runs in one process (one engine holds a SQLite store).  Beside the rates:
  the CPU seconds and context switches of the worker processes (their whole
  life, start-up included) and the CPU seconds PostgreSQL's own processes
  spent during the run.
- claim latency: 2 workers idle; executions are started one at a time; the
  latency is from the execution's creation to the start of its first
  invocation on some engine (both read back from the database).
- failover: 2 workers run 6 executions of 50 ms steps; the one that holds
  more of them is killed with SIGKILL; the figure is from the kill to the
  first step of one of its executions on the survivor (the lease, `--lease`, 10 s by default, is most
  of it), over `--kills` rounds, each on a fresh schema.

`python -m benchmarks.scale_out [--server postgresql://postgres@127.0.0.1:5432/postgres] [--engines 1 2 4]
[--executions 2000] [--kills 20] [--lease 10] [--parts throughput claims failover]`
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.cluster_load import STEPS, slow_steps, ten_steps
from benchmarks.common import Usage, in_fresh_process, percentile, postgres_cpu_seconds, print_table, scratch_store
from benchmarks.host import host_noted
from durable.engine import Engine
from durable.stores.base import ExecutionStatus

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


class WorkerProcesses:
    """`durable worker` processes on one store; stopping one collects its CPU time and context switches."""

    def __init__(self, url: str, lease: float, threads: int, marks: Path | None = None) -> None:
        self.url, self.lease, self.threads, self.marks = url, lease, threads, marks
        self.isolation = os.environ.get("DURABLE_BENCH_ISOLATION", "thread")
        self.pids: list[int] = []
        self.cpu_s = 0.0
        self.switches = 0

    def start(self) -> int:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.marks is not None:
            env["DURABLE_BENCH_MARKS"] = str(self.marks)
        proc = subprocess.Popen(
            [sys.executable, "-m", "durable.cli", "--store", self.url, "worker", "--function",
             "benchmarks.cluster_load", "--workers", str(self.threads), "--isolation", self.isolation,
             "--lease", f"{self.lease}s",
             "--progress", "60"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        self.pids.append(proc.pid)
        return proc.pid

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.pids.remove(pid)

    def stop(self) -> None:
        for pid in self.pids:
            os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            _, _, usage = os.wait4(pid, 0)
            self.cpu_s += usage.ru_utime + usage.ru_stime
            self.switches += usage.ru_nvcsw + usage.ru_nivcsw
        self.pids = []


def _wait_for(predicate: Any, timeout: float, what: str, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def _live(client: Engine, count: int) -> bool:
    members: list[dict[str, Any]] = client.store.engines()  # type: ignore[attr-defined]
    return len([e for e in members if e["state"] == "live"]) >= count


def _count(client: Engine, sql: str) -> int:
    with client.store.pool.connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute(sql).fetchone()
    return int(row[0])


STEPS_DONE = "SELECT count(*) FROM events WHERE body::jsonb->>'EventType' = 'StepSucceeded'"
ENDED = "SELECT count(*) FROM executions WHERE status <> 'RUNNING'"


def throughput_postgresql(server: str, engines: int, executions: int, lease: float) -> list[Any]:
    with scratch_store(server) as url, Engine(store=url, functions=[ten_steps, slow_steps], execute=False) as client:
        for i in range(executions):
            client.start("ten_steps", i)
        workers = WorkerProcesses(url, lease, threads=4)
        try:
            for _ in range(engines):
                workers.start()
            _wait_for(lambda: _live(client, engines), 60, f"{engines} engines to join")
            began, pg_before = time.perf_counter(), postgres_cpu_seconds()
            steps_before, ended_before = _count(client, STEPS_DONE), _count(client, ENDED)
            # polled every 0.1 s: the count is a query on the server the workers share two cores with
            _wait_for(lambda: _count(client, ENDED) >= executions, 900, "every execution to end", every=0.1)
            wall = time.perf_counter() - began
            pg_cpu = postgres_cpu_seconds() - pg_before
            steps = _count(client, STEPS_DONE) - steps_before
            ended = executions - ended_before
            failed = client.store.list_executions(ExecutionStatus.FAILED, limit=1)
        finally:
            workers.stop()
    assert not failed, failed
    return [f"postgresql, {engines} engine(s)", ended, wall, ended / wall, steps / wall, workers.cpu_s,
            workers.switches, pg_cpu]


def throughput_sqlite(executions: int) -> list[Any]:
    figures = in_fresh_process("benchmarks.scale_out", "sqlite", str(executions))
    return ["sqlite, 1 engine (in-process)", executions, figures["wall_s"], executions / figures["wall_s"],
            executions * STEPS / figures["wall_s"], figures["cpu_s"], figures["voluntary"] + figures["involuntary"],
            ""]


def _sqlite_child(executions: int) -> dict[str, Any]:
    with scratch_store("sqlite") as url, Engine(store=url, workers=4) as engine:
        engine.register(ten_steps)
        usage = Usage()
        ids = [engine.start("ten_steps", i) for i in range(executions)]
        for eid in ids:
            assert engine.wait(eid, timeout=600).status is ExecutionStatus.SUCCEEDED
        return usage.stop()


def claim_latency(server: str, count: int, lease: float) -> list[Any]:
    with scratch_store(server) as url, Engine(store=url, functions=[ten_steps, slow_steps], execute=False) as client:
        workers = WorkerProcesses(url, lease, threads=4)
        try:
            workers.start()
            workers.start()
            _wait_for(lambda: _live(client, 2), 60, "2 engines to join")
            ids = []
            for i in range(count):
                ids.append(client.start("ten_steps", i))
                time.sleep(0.02)  # a steady trickle of starts, not a burst
            _wait_for(lambda: _count(client, ENDED) >= count, 300, "every execution to end")
            latencies = []
            for eid in ids:
                created = client.status(eid).created
                first = next(e for e in client.history(eid) if e["EventType"] == "InvocationCompleted")
                latencies.append((first["InvocationCompletedDetails"]["StartTimestamp"] - created) * 1000)
        finally:
            workers.stop()
    return ["claim latency (creation to invocation start), ms", count, percentile(latencies, 50),
            percentile(latencies, 99), max(latencies)]


def _failover_once(server: str, lease: float) -> float:
    with tempfile.TemporaryDirectory() as folder, scratch_store(server) as url, Engine(
        store=url, functions=[ten_steps, slow_steps], execute=False
    ) as client:
        marks = Path(folder) / "marks"
        workers = WorkerProcesses(url, lease, threads=8, marks=marks)
        try:
            workers.start()
            workers.start()
            _wait_for(lambda: _live(client, 2), 60, "2 engines to join")
            for i in range(6):  # fewer than one engine takes on, so the survivor has room for the victim's
                client.start("slow_steps", {"id": f"x{i}", "steps": 4000})

            def by_pid() -> dict[int, set[str]]:
                held: dict[int, set[str]] = collections.defaultdict(set)
                for line in marks.read_text().splitlines() if marks.exists() else []:
                    execution, _step, pid, _at = line.split()
                    held[int(pid)].add(execution)
                return held

            _wait_for(lambda: sum(len(held) for held in by_pid().values()) == 6, 60, "every execution to run")
            victim = max(by_pid().items(), key=lambda item: len(item[1]))[0]
            workers.kill(victim)
            killed_at = time.time()
            orphans = by_pid()[victim]

            def taken_over() -> float | None:
                for line in marks.read_text().splitlines():
                    execution, _step, pid, at = line.split()
                    if int(pid) != victim and execution in orphans and float(at) > killed_at:
                        return float(at)
                return None

            _wait_for(lambda: taken_over() is not None, lease + 120, "a taken-over execution to run a step")
            moved = taken_over()
            assert moved is not None
            return moved - killed_at
        finally:
            workers.stop()
            for eid in [r.execution_id for r in client.store.list_executions(ExecutionStatus.RUNNING, 100)]:
                client.stop(eid)


def failover(server: str, kills: int, lease: float) -> list[Any]:
    times = []
    for n in range(kills):
        times.append(_failover_once(server, lease))
        print(f"  kill {n + 1}/{kills}: taken over after {times[-1]:.2f} s", file=sys.stderr, flush=True)
    return [f"failover after SIGKILL (lease {lease:g} s), s", kills, percentile(times, 50), percentile(times, 99),
            max(times)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=SERVER, help="a PostgreSQL server URL; each run uses a fresh schema")
    parser.add_argument("--engines", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--parts", nargs="+", default=["throughput", "claims", "failover"],
                        choices=["throughput", "claims", "failover"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_sqlite_child(int(args.child[1]))))
        return
    if "throughput" in args.parts:
        rows = [throughput_sqlite(args.executions)]
        print_table(THROUGHPUT, rows)
        for engines in args.engines:
            rows.append(throughput_postgresql(args.server, engines, args.executions, args.lease))
            print_table(THROUGHPUT, rows[-1:])
        print()
        print_table(THROUGHPUT, rows)
        print()
    latency_rows = []
    if "claims" in args.parts:
        latency_rows.append(claim_latency(args.server, args.claims, args.lease))
    if "failover" in args.parts:
        latency_rows.append(failover(args.server, args.kills, args.lease))
    if latency_rows:
        print_table(["measure", "samples", "p50", "p99", "max"], latency_rows)


THROUGHPUT = ["store, engines", "executions", "wall s", "executions/s", "steps/s", "worker cpu s",
              "worker ctx switches", "postgres cpu s"]


if __name__ == "__main__":
    with host_noted():
        main()
