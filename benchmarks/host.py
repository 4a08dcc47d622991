"""How fast this host is right now, printed before and after every benchmark's table.

Hosts of one kind differ several-fold in speed, and one host drifts within
a day, so a figure means little without the state of the host around it.
Three probes, each the median of three tries where it is cheap enough:
`py_mops` (millions of iterations of a small pure-Python loop per second,
one thread), `handoff_us` (one round trip of a message between two threads
through `queue.Queue`) and `fsync_ms` (a 100-byte write forced to disk).
They measure what the shared calibration script measures, so the lines of
both compare.  `python -m benchmarks.host` prints the line alone.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

LOOP_ITERATIONS = 5_000_000
ROUND_TRIPS = 20_000
FORCED_WRITES = 200


def python_mops() -> float:
    began = time.perf_counter()
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i & 7
    return LOOP_ITERATIONS / 1e6 / (time.perf_counter() - began)


def handoff_us() -> float:
    there: queue.Queue[int] = queue.Queue()
    back: queue.Queue[int] = queue.Queue()

    def echo() -> None:
        for _ in range(ROUND_TRIPS):
            back.put(there.get())

    echoer = threading.Thread(target=echo, daemon=True)
    echoer.start()
    began = time.perf_counter()
    for i in range(ROUND_TRIPS):
        there.put(i)
        back.get()
    elapsed = time.perf_counter() - began
    echoer.join()
    return elapsed / ROUND_TRIPS * 1e6


def fsync_ms() -> float:
    with tempfile.NamedTemporaryFile(prefix="durable-host-") as scratch:
        began = time.perf_counter()
        for _ in range(FORCED_WRITES):
            os.write(scratch.fileno(), b"." * 100)
            os.fsync(scratch.fileno())
        return (time.perf_counter() - began) / FORCED_WRITES * 1e3


def host_speed() -> dict[str, float]:
    return {
        "py_mops": round(statistics.median(python_mops() for _ in range(3)), 2),
        "handoff_us": round(statistics.median(handoff_us() for _ in range(3)), 1),
        "fsync_ms": round(fsync_ms(), 3),
    }


@contextmanager
def host_noted() -> Iterator[None]:
    """Print the host line before and after the block; a benchmark's own child process prints neither
    (its parent reads the last line it prints)."""
    if "--child" in sys.argv:
        yield
        return
    print(f"host before: {json.dumps(host_speed())}", flush=True)
    yield
    print(f"host after:  {json.dumps(host_speed())}", flush=True)


if __name__ == "__main__":
    print(json.dumps(host_speed()))
