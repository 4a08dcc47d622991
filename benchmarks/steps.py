"""Sequential step throughput: one execution of N trivial steps on SQLite (WAL), target >= 3,000 steps/s.

Each step checkpoints its start without waiting and its success with a wait
for the commit; group commit lets both share one transaction.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import constant, fresh_engine, median, print_table
from durable import DurableContext, durable_execution

TARGET = 3000.0


@durable_execution
def sequential_steps(count: int, context: DurableContext) -> int:
    for i in range(count):
        context.step(constant(i), name="s")
    return count


def run_once(steps: int) -> tuple[float, int]:
    with fresh_engine() as engine:
        engine.register(sequential_steps)
        before = engine.stats()["transactions"]
        began = time.perf_counter()
        execution_id = engine.start("sequential_steps", steps)
        record = engine.wait(execution_id, timeout=600)
        elapsed = time.perf_counter() - began
        assert record.status.value == "SUCCEEDED", record
        return elapsed, engine.stats()["transactions"] - before


def _verdict(rate: float) -> list[str]:
    return [">= 3000", "yes" if rate >= TARGET else "no"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    rows: list[list[Any]] = []
    rates = []
    for run in range(1, args.runs + 1):
        elapsed, transactions = run_once(args.steps)
        rate = args.steps / elapsed
        rates.append(rate)
        rows.append([f"run {run}", args.steps, elapsed, rate, transactions, *_verdict(rate)])
    best = median(rates)
    rows.append(["median", args.steps, args.steps / best, best, "", *_verdict(best)])
    print_table(["sequential steps", "steps", "seconds", "steps/s", "transactions", "target", "met"], rows)


if __name__ == "__main__":
    main()
