"""Many executions at once: E executions of 10 trivial steps started together.

Reports executions/s (first start to last end) and the p50/p99 latency from
each `start()` call to the moment its execution ended (the `ended` timestamp
the engine records), plus checkpoint transactions: group commit shows as far
fewer transactions than the 2 x steps checkpoints.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import constant, fresh_engine, percentile, print_table
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution


@durable_execution
def ten_steps(event: Any, context: DurableContext) -> int:
    total = 0
    for i in range(10):
        total += context.step(constant(i), name=f"s{i}")
    return total


def run(executions: int, workers: int) -> list[Any]:
    with fresh_engine(workers) as engine:
        engine.register(ten_steps)
        before = engine.stats()["transactions"]
        began_at: dict[str, float] = {}
        first = time.time()
        for _ in range(executions):
            now = time.time()
            began_at[engine.start("ten_steps", None)] = now
        records = [engine.wait(eid, timeout=600) for eid in began_at]
        last = max(r.ended or 0.0 for r in records)
        latencies = [((r.ended or 0.0) - began_at[r.execution_id]) * 1000 for r in records]
        assert all(r.status.value == "SUCCEEDED" for r in records)
        transactions = engine.stats()["transactions"] - before
    return [
        f"{executions} x 10 steps", workers, executions / (last - first),
        percentile(latencies, 50), percentile(latencies, 99), transactions, executions * 10 * 2,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8])
    args = parser.parse_args(argv)
    rows = [run(args.executions, workers) for workers in args.workers]
    print_table(
        ["scenario", "workers", "executions/s", "p50 ms", "p99 ms", "transactions", "step checkpoints"], rows
    )


if __name__ == "__main__":
    with host_noted():
        main()
