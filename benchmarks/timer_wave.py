"""The timer wave: a map with one 18 s keeper branch and N branches polling every 2 s, 8 times.

The ideal is 18 s in one invocation (the keeper holds the invocation; every
poll resumes in-process).  Each scenario runs in a fresh process so peak RSS
and peak thread count are its own.  Targets: <= 18.5 s at 300, <= 20 s at
3,000, and 10,000 in one invocation in <= 25 s with fewer than 200 threads.
Also: the wave at 300 and 3,000 with isolation="process" (the handler and its
branches in a worker process; peak RSS and threads are the engine's), and 100
items x max_concurrency=5 x 1 s waits, against the 20 s ideal.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import print_table

IDEAL = 18.0
TARGETS = {300: 18.5, 3000: 20.0, 10000: 25.0}


def _thread_sampler(peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.05):
        peak[0] = max(peak[0], threading.active_count())


def run_scenario(kind: str, branches: int) -> dict[str, Any]:
    """Runs in the child process: one scenario on a fresh engine and store."""
    from durable.engine import Engine
    from tests.stress.test_batch_stress import limited, timer_wave

    peak = [threading.active_count()]
    stop = threading.Event()
    threading.Thread(target=_thread_sampler, args=(peak, stop), daemon=True).start()
    isolation = "process" if kind == "wave-process" else "thread"
    with tempfile.TemporaryDirectory() as folder, Engine(
        store=f"sqlite:///{Path(folder) / 'b.db'}", isolation=isolation
    ) as engine:
        if kind.startswith("wave"):
            engine.register("timer_wave", timer_wave, invocation_timeout=60)
            began = time.perf_counter()
            eid = engine.start("timer_wave", {"branches": branches, "keep": IDEAL})
        else:
            engine.register(limited)
            began = time.perf_counter()
            eid = engine.start("limited", None)
        record = engine.wait(eid, timeout=600)
        elapsed = time.perf_counter() - began
        transactions = engine.stats()["transactions"]
    stop.set()
    return {
        "status": record.status.value,
        "seconds": elapsed,
        "invocations": record.invocations,
        "transactions": transactions,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": peak[0],
    }


def _in_child(kind: str, branches: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.timer_wave", "--child", kind, str(branches)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, nargs="+", default=[300, 1000, 3000, 10000])
    parser.add_argument("--process-branches", type=int, nargs="*", default=[300, 3000],
                        help="also run these wave sizes with isolation='process'")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_scenario(args.child[0], int(args.child[1]))))
        return
    rows = []
    for branches in args.branches:
        r = _in_child("wave", branches)
        target = TARGETS.get(branches)
        met = "" if target is None else ("yes" if r["seconds"] <= target and r["invocations"] == 1 else "no")
        rows.append([
            f"wave {branches}+1", r["status"], r["seconds"], r["seconds"] - IDEAL, r["invocations"],
            r["transactions"], f"{r['rss_mb']:.0f}", r["threads"], f"<= {target} s" if target else "", met,
        ])
    for branches in args.process_branches:
        r = _in_child("wave-process", branches)
        rows.append([
            f"wave {branches}+1, process isolation", r["status"], r["seconds"], r["seconds"] - IDEAL,
            r["invocations"], r["transactions"], f"{r['rss_mb']:.0f}", r["threads"], "", "",
        ])
    r = _in_child("limited", 100)
    rows.append([
        "100 x mc=5 x 1 s", r["status"], r["seconds"], r["seconds"] - 20.0, r["invocations"], r["transactions"],
        f"{r['rss_mb']:.0f}", r["threads"], "~20 s", "",
    ])
    print_table(
        ["scenario", "status", "wall s", "over ideal s", "invocations", "transactions", "peak RSS MB",
         "peak threads", "target", "met"],
        rows,
    )


if __name__ == "__main__":
    main()
