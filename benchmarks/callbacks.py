"""Callback round trip over HTTP, and completions per second with 1,000 executions waiting.

Round trip: from just before the `POST /callbacks/ID/succeed` request is sent
to the moment the waiting execution's handler gets past `callback.result()`
in its next invocation (it notes `time.time()`): the HTTP request, the
guarded write, the wake-up, the re-invocation and the replay.  Measured one
at a time, N times (default 200); p50 and p99.

Throughput: N executions wait (default 1,000); N completions, each with its
own payload, are sent at once from 64 client threads.  The clients run in a
separate process, as real senders would, so the figure is the server's and
not the clients' share of one interpreter lock.  "accepted/s" is N over the
time from the first request sent to the last answered; "resumed+ended/s" is
N over the time from the first request sent to the last execution ended.
A real uvicorn server on 127.0.0.1 and a real SQLite store.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, print_table
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution
from durable.core.records import OperationStatus
from durable.engine import Engine
from durable.http_api import serving_in_background

TOKEN = "benchmark-token-0123456789abcdef-01234"
CLIENT_THREADS = 64
RESUMED: dict[str, float] = {}


@durable_execution
def awaiting(event: Any, context: DurableContext) -> Any:
    value = context.create_callback(name="answer").result()
    RESUMED.setdefault(context.execution_context.durable_execution_arn, time.time())
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


def throughput(engine: Engine, url: str, count: int, folder: Path) -> list[Any]:
    ids = [engine.start("awaiting") for _ in range(count)]
    callbacks = _open_callbacks(engine, ids)
    work = folder / "completions.json"
    work.write_text(json.dumps([[callbacks[eid], json.dumps({"for": eid})] for eid in ids]))
    sender = subprocess.run(
        [sys.executable, "-m", "benchmarks.callbacks", "--send", url, str(work)],
        capture_output=True, text=True, check=True,
    )
    sent = json.loads(sender.stdout)
    for eid in ids:
        engine.wait(eid, timeout=300)
    ended = max(engine.status(eid).ended or 0.0 for eid in ids)
    wrong = [eid for eid in ids if json.loads(engine.status(eid).result or "null") != json.dumps({"for": eid})]
    if wrong or sent["statuses"] != [204]:
        raise AssertionError(f"{len(wrong)} executions ended with another payload; statuses {sent['statuses']}")
    began = sent["began"]
    return [f"{count} waiting, completed at once", "", "", count / (sent["answered"] - began), count / (ended - began)]


def send(url: str, work: Path) -> None:
    """The client side of `throughput`, in its own process: every completion once, 64 at a time."""
    completions = json.loads(work.read_text())
    local = threading.local()

    def complete(item: list[str]) -> int:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        callback_id, payload = item
        return local.client.post(f"{url}/callbacks/{callback_id}/succeed", content=payload.encode()).status_code

    with concurrent.futures.ThreadPoolExecutor(CLIENT_THREADS) as pool:
        began = time.time()
        statuses = list(pool.map(complete, completions))
        answered = time.time()
    print(json.dumps({"began": began, "answered": answered, "statuses": sorted(set(statuses))}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--send", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.send:
        send(args.send[0], Path(args.send[1]))
        return
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder, Engine(
        store=f"sqlite:///{Path(folder) / 'bench.db'}", functions=[awaiting], workers=8
    ) as engine, serving_in_background(engine, TOKEN) as url:
        rows = [round_trips(engine, url, args.round_trips), throughput(engine, url, args.waiting, Path(folder))]
    print_table(["scenario", "p50 ms", "p99 ms", "completions/s accepted", "executions resumed+ended/s"], rows)


if __name__ == "__main__":
    with host_noted():
        main()
