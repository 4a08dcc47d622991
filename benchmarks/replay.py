"""Replay cost: re-invoking an execution with N completed operations until it reaches new work.

The handler runs N steps, then waits 1 s (the invocation suspends).  On the
re-invocation it replays the N steps and the wait from the store and then
reaches new work; the figure is the time from that invocation's start (its
`StartTimestamp`, taken before the state is loaded) to the handler's first
line after the wait.  Target: < 250 ms at 5,000 operations.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import constant, fresh_engine, print_table
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution
from durable.config import Duration

REACHED: dict[str, float] = {}


@durable_execution
def replay_many(count: int, context: DurableContext) -> int:
    for i in range(count):
        context.step(constant(i), name="s")
    context.wait(Duration.from_seconds(1), name="pause")
    REACHED[context.execution_context.durable_execution_arn] = time.time()
    return count


def run(operations: int) -> list[Any]:
    with fresh_engine() as engine:
        engine.register(replay_many)
        execution_id = engine.start("replay_many", operations)
        record = engine.wait(execution_id, timeout=600)
        assert record.status.value == "SUCCEEDED", record
        completions = [e for e in engine.history(execution_id) if e["EventType"] == "InvocationCompleted"]
        replay_started = completions[-1]["InvocationCompletedDetails"]["StartTimestamp"]
    took = (REACHED[execution_id] - replay_started) * 1000
    return [operations + 1, took, "< 250 ms", "yes" if took < 250 else "no"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--operations", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args(argv)
    print_table(["completed operations", "replay to new work ms", "target", "met"], [run(n) for n in args.operations])


if __name__ == "__main__":
    with host_noted():
        main()
