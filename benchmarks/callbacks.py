"""Callback round trip over HTTP, and completions per second with 1,000 executions waiting.

Round trip: from just before the `POST /callbacks/ID/succeed` request is sent
to the moment the waiting execution's handler gets past `callback.result()`
in its next invocation (it notes `time.time()`): the HTTP request, the
guarded write, the wake-up, the re-invocation and the replay.  Measured one
at a time.  Throughput: N executions wait, N completions are sent at once
from 64 client threads, timed from the first request to the last execution
ending.  A real uvicorn server on 127.0.0.1 and a real SQLite store.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, print_table
from durable import DurableContext, durable_execution
from durable.engine import Engine
from durable.http_api import serving_in_background
from durable.lambda_service import OperationStatus

TOKEN = "benchmark-token"
RESUMED: dict[str, float] = {}


@durable_execution
def awaiting(event: Any, context: DurableContext) -> Any:
    value = context.create_callback(name="answer").result()
    RESUMED.setdefault(context.execution_arn, time.time())
    return value


def _open_callbacks(engine: Engine, ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + 300
    while True:
        found: dict[str, str] = {}
        for eid in ids:
            ops = [op for op in engine.operations(eid) if op.status is OperationStatus.STARTED and op.callback_id]
            if ops and not engine.status(eid).invocation_open:
                found[eid] = str(ops[0].callback_id)
        if len(found) == len(ids):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError("executions did not reach their callbacks")
        time.sleep(0.05)


def round_trips(engine: Engine, url: str, count: int) -> list[Any]:
    latencies = []
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for _ in range(count):
            eid = engine.start("awaiting")
            callback_id = _open_callbacks(engine, [eid])[eid]
            sent = time.time()
            client.post(f"{url}/callbacks/{callback_id}/succeed", content=b'"ok"').raise_for_status()
            engine.wait(eid, timeout=30)
            latencies.append((RESUMED[eid] - sent) * 1000)
    return [f"round trip x {count}", percentile(latencies, 50), percentile(latencies, 99), "", ""]


def throughput(engine: Engine, url: str, count: int) -> list[Any]:
    ids = [engine.start("awaiting") for _ in range(count)]
    callbacks = _open_callbacks(engine, ids)
    local = threading.local()

    def complete(eid: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        local.client.post(f"{url}/callbacks/{callbacks[eid]}/succeed", content=b'"ok"').raise_for_status()

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        list(pool.map(complete, ids))
    accepted = time.perf_counter() - began
    for eid in ids:
        engine.wait(eid, timeout=300)
    took = time.perf_counter() - began
    return [f"{count} waiting, completed at once", "", "", count / accepted, count / took]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder, Engine(
        store=f"sqlite:///{Path(folder) / 'bench.db'}", functions=[awaiting], workers=8
    ) as engine, serving_in_background(engine, TOKEN) as url:
        rows = [round_trips(engine, url, args.round_trips), throughput(engine, url, args.waiting)]
    print_table(["scenario", "p50 ms", "p99 ms", "completions/s accepted", "executions resumed+ended/s"], rows)


if __name__ == "__main__":
    main()
