"""What the console costs: the 300-branch timer wave watched or not, and the executions list at 100,000.

1. The wave (examples/timer_wave, 300 branches polling every 2 s, an 18 s
   keeper) on a fresh SQLite engine, each run in a fresh process, three ways:
   `plain` (no console), `served` (the console served, its feed sampling at
   4 Hz, nobody watching) and `watched` (a headless Chromium on the topology
   page the whole time).  Medians of `--runs` (3) runs: wall time, and the
   engine process's CPU seconds and context switches (resource.getrusage;
   the browser's own CPU is another process's and not counted).  Target: the
   console adds at most 3 % to the wall time.
2. `GET /console/executions` on a SQLite store seeded with 100,000
   executions (inserted directly in batches): the first page, a page deep in
   the keyset, and each filter.  Median and worst of `--requests` (20).
   Target: at most 100 ms.

`python -m benchmarks.console [--runs 3] [--executions 100000] [--requests 20] [--skip-wave]`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Usage, in_fresh_process, print_table, spread
from benchmarks.host import host_noted

WAVE = {"branches": 300, "keep": 18.0}
WAVE_TARGET = 1.03
LIST_TARGET_MS = 100.0


def run_wave(mode: str) -> dict[str, Any]:
    """In the child process: one wave on a fresh engine, with the console as `mode` says."""
    from contextlib import ExitStack

    from durable.console import serve_console
    from durable.engine import Engine
    from examples.timer_wave import handler

    with tempfile.TemporaryDirectory() as folder, Engine(store=f"sqlite:///{Path(folder) / 'w.db'}") as engine:
        engine.register(handler.name, handler, invocation_timeout=60)
        frames = 0
        with ExitStack() as stack:
            server = stack.enter_context(serve_console(engine)) if mode != "plain" else None
            driver = None
            if mode == "watched":
                from tests.console.browser import chromium

                assert server is not None
                driver = stack.enter_context(chromium())
                driver.get(server.url)
                driver.get(f"{server.base_url}/console/topology")
                first = time.monotonic() + 10
                while not driver.find_element("id", "graph").get_attribute("data-seq") and time.monotonic() < first:
                    time.sleep(0.05)
            usage = Usage()
            execution_id = engine.start(handler.name, WAVE)
            record = engine.wait(execution_id, timeout=300)
            figures = usage.stop()
            if driver is not None:
                frames = int(driver.find_element("id", "graph").get_attribute("data-seq") or 0)
        return {**figures, "status": record.status.value, "invocations": record.invocations, "frames": frames}


def _seed(path: Path, count: int) -> None:
    """`count` executions straight into the store's tables, 10,000 a transaction."""
    from durable.stores.sqlite import SQLiteStore

    store = SQLiteStore(path)
    statuses = ["SUCCEEDED"] * 7 + ["FAILED", "RUNNING", "STOPPED"]
    began = time.time() - count
    conn = store._writer
    for start in range(0, count, 10_000):
        rows = [
            (f"{i:032x}", f"jobs.{'billing' if i % 5 else 'reports'}:handler", f"job-{i:06d}", statuses[i % 10],
             json.dumps({"n": i}), began + i, 2)
            for i in range(start, min(count, start + 10_000))
        ]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO executions(execution_id, function_name, name, status, input, created, next_event_id) "
            "VALUES (?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO events(execution_id, event_id, body) VALUES (?, 1, '{}')",
                         [(row[0],) for row in rows])
        conn.execute("COMMIT")
    store.close()


def list_timings(count: int, requests: int) -> list[list[Any]]:
    from fastapi.testclient import TestClient

    from durable.console import create_console_app
    from durable.engine import Engine

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "list.db"
        began = time.perf_counter()
        _seed(path, count)
        seeded = time.perf_counter() - began
        print(f"seeded {count:,} executions in {seeded:.1f} s")
        with Engine(store=f"sqlite:///{path}", execute=False, recover=False) as engine:
            console = create_console_app(engine, "bench-token-0123456789abcdef-0123456789")
            try:
                with TestClient(console.app, follow_redirects=False) as client:
                    client.get(console.login_url("http://testserver"))
                    deep = f"{time.time() - count / 2!r}~{count // 2:032x}"
                    narrow = f"job-{count // 20:05d}"
                    cases = {
                        "newest page": {},
                        "page at the middle (keyset)": {"before": deep},
                        "status=FAILED": {"status": "FAILED"},
                        "function=jobs.reports:handler": {"function": "jobs.reports:handler"},
                        f"name starts with {narrow}": {"name": narrow},
                        "name starts with job-0 (broad)": {"name": "job-0"},
                        "status=RUNNING, middle": {"status": "RUNNING", "before": deep},
                    }
                    for label, params in cases.items():
                        times = []
                        shown = 0
                        for _ in range(requests):
                            start = time.perf_counter()
                            response = client.get("/console/executions", params=params)
                            times.append((time.perf_counter() - start) * 1000)
                            assert response.status_code == 200, response.text[:300]
                            shown = len(re.findall(r'href="/console/executions/[0-9a-f]{32}"', response.text))
                        mid, worst = statistics.median(times), max(times)
                        rows.append([f"list {count:,}: {label}", shown, mid, worst, f"<= {LIST_TARGET_MS:g} ms",
                                     "yes" if mid <= LIST_TARGET_MS else "no"])
            finally:
                console.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--skip-wave", action="store_true")
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_wave(args.child[0])))
        return
    print(f"host: {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} CPUs")
    if not args.skip_wave:
        results: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.runs):
            for mode in ("plain", "served", "watched"):  # interleaved, so drift in the host hits every mode alike
                results.setdefault(mode, []).append(in_fresh_process("benchmarks.console", mode))
        base = statistics.median(r["wall_s"] for r in results["plain"])
        rows = []
        for mode, runs in results.items():
            low, mid, high = spread([r["wall_s"] for r in runs])
            rows.append([
                f"wave 300+1, {mode}", ",".join(sorted({r["status"] for r in runs})), f"{low:.2f}/{mid:.2f}/{high:.2f}",
                f"{(mid / base - 1) * 100:+.1f} %", statistics.median(r["cpu_s"] for r in runs),
                statistics.median(r["voluntary"] + r["involuntary"] for r in runs),
                max(r["invocations"] for r in runs), max(r["frames"] for r in runs) or "",
                "" if mode == "plain" else ("yes" if mid <= base * WAVE_TARGET else "no"),
            ])
        print_table(["scenario", "status", "wall s min/med/max", "vs plain", "cpu s", "ctx switches", "invocations",
                     "frames seen", f"<= +{(WAVE_TARGET - 1) * 100:.0f} %"], rows)
        print()
    print_table(["scenario", "rows shown", "median ms", "worst ms", "target", "met"],
                list_timings(args.executions, args.requests))


if __name__ == "__main__":
    with host_noted():
        main()
