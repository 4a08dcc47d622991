"""Invocation overhead of process isolation against threads.

The same one-step handler on a real SQLite engine, run with
`isolation="thread"` and with `isolation="process"`:

- one at a time: latency from `start()` to the execution's end, p50/p99;
- N at once with 4 workers: executions per second from the first start to the last end.

The worker processes are started (and have imported the handler) before the
clock starts: what is measured is the per-invocation cost of crossing the
pipe (the job, the checkpoint round trips, the outcome), not process start-up,
which is reported separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, print_table
from benchmarks.dispatch import one_step
from benchmarks.host import host_noted
from durable.engine import Engine


def measure(isolation: str, sequential: int, concurrent: int) -> list[Any]:
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder:
        began = time.perf_counter()
        engine = Engine(
            store=f"sqlite:///{Path(folder) / 'bench.db'}", functions=[one_step], workers=4, isolation=isolation
        )
        try:
            engine.wait(engine.start("one_step", 0), timeout=120)
            warm = time.perf_counter() - began
            for n in range(20):
                engine.wait(engine.start("one_step", n), timeout=60)
            latencies = []
            for n in range(sequential):
                started = time.perf_counter()
                engine.wait(engine.start("one_step", n), timeout=60)
                latencies.append(1000 * (time.perf_counter() - started))
            began = time.perf_counter()
            ids = [engine.start("one_step", n) for n in range(concurrent)]
            for execution_id in ids:
                engine.wait(execution_id, timeout=600)
            rate = concurrent / (time.perf_counter() - began)
        finally:
            engine.close()
    return [isolation, 1000 * warm, percentile(latencies, 50), percentile(latencies, 99), rate]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--concurrent", type=int, default=1000)
    args = parser.parse_args(argv)
    rows = [measure(isolation, args.sequential, args.concurrent) for isolation in ("thread", "process")]
    print_table(
        ["isolation", "engine + first execution ms", "one-step execution p50 ms", "p99 ms",
         f"executions/s ({args.concurrent:,} at once, 4 workers)"],
        rows,
    )


if __name__ == "__main__":
    with host_noted():
        main()
