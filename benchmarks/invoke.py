"""Chained invoke latency: from `context.invoke` of a trivial durable child to the caller resuming.

The caller notes the time just before its first `context.invoke` call and
the time its handler first gets past it (in the next invocation, after the
child ran as its own execution and its end closed the caller's operation and
woke it).  The figure is the difference: the child's whole execution, the
outside-change write and the caller's re-invocation and replay.  Measured
one caller at a time, and with many callers at once.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.common import fresh_engine, percentile, print_table
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution

INVOKED: dict[str, float] = {}
RESUMED: dict[str, float] = {}


@durable_execution
def trivial_child(event: Any, context: DurableContext) -> Any:
    return event


@durable_execution
def caller(event: Any, context: DurableContext) -> Any:
    INVOKED.setdefault(context.execution_context.durable_execution_arn, time.time())
    result: Any = context.invoke("trivial_child", event)
    RESUMED.setdefault(context.execution_context.durable_execution_arn, time.time())
    return result


def run(callers: int, concurrent: bool) -> list[Any]:
    INVOKED.clear()
    RESUMED.clear()
    with fresh_engine() as engine:
        engine.register(trivial_child)
        engine.register(caller)
        began = time.perf_counter()
        if concurrent:
            ids = [engine.start("caller", n) for n in range(callers)]
            for execution_id in ids:
                engine.wait(execution_id, timeout=600)
        else:
            ids = []
            for n in range(callers):
                ids.append(engine.start("caller", n))
                engine.wait(ids[-1], timeout=60)
        took = time.perf_counter() - began
        assert all(engine.status(i).status.value == "SUCCEEDED" for i in ids)
    latencies = [(RESUMED[i] - INVOKED[i]) * 1000 for i in ids]
    label = f"{callers} callers at once" if concurrent else f"{callers} callers one by one"
    return [label, percentile(latencies, 50), percentile(latencies, 99), callers / took]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callers", type=int, default=200)
    args = parser.parse_args(argv)
    rows = [run(args.callers, concurrent=False), run(args.callers, concurrent=True)]
    print_table(["scenario", "invoke to resume p50 ms", "p99 ms", "callers/s"], rows)


if __name__ == "__main__":
    with host_noted():
        main()
