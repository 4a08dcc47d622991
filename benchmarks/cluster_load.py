"""Handlers the scale-out benchmark's `durable worker` processes run (`--function benchmarks.cluster_load`).

`slow_steps` appends "execution step pid time" to the file named by
$DURABLE_BENCH_MARKS before each step, so the benchmark can tell when an
execution's work moved to another process.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.common import constant
from durable import DurableContext, durable_execution

STEPS = 10


@durable_execution
def ten_steps(event: Any, context: DurableContext) -> int:
    for i in range(STEPS):
        context.step(constant(i), name=f"s{i}")
    return STEPS


def _mark(execution: str, step: int) -> None:
    line = f"{execution} {step} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(os.environ["DURABLE_BENCH_MARKS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@durable_execution
def slow_steps(event: dict[str, Any], context: DurableContext) -> int:
    """Steps of 50 ms each: long enough that a killed engine leaves executions in the middle."""

    def run(step: int) -> Any:
        def body(_: Any) -> int:
            _mark(event["id"], step)
            time.sleep(0.05)
            return step

        return body

    for i in range(event["steps"]):
        context.step(run(i), name=f"s{i}")
    return int(event["steps"])
