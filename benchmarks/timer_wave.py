"""The timer wave: a map with one 18 s keeper branch and N branches polling every 2 s, 8 times.

The ideal is 18 s in one invocation: the keeper holds the invocation and
every poll resumes in-process, so a wave is 8 x N resumes.  Every scenario
runs `--runs` times (default 3), each in a fresh process, and the table gives
min / median / max wall time with the medians of CPU seconds (user + system,
all threads), CPU µs per resume, context switches, invocations, transactions,
peak RSS and peak threads.  Modes: `engine` (durable.engine.Engine, as a
service runs it) and `testing` (durable.testing.DurableFunctionTestRunner with
skip_time=False and a 60 s invocation timeout, as a user's test runs it).
Also 100 items x max_concurrency=5 x 1 s waits (ideal 20 s) with the peak
number of iterations in flight read back from the history.

`python -m benchmarks.timer_wave [--branches 300 1000 3000 10000 30000] [--modes engine testing] [--runs 3]
[--store sqlite|postgresql://user@host:port/db]`
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from benchmarks.common import DEFAULT_STORE, Usage, in_fresh_process, print_table, scratch_store, spread
from benchmarks.host import host_noted

IDEAL = 18.0
POLLS = 8
TARGETS = {300: 18.3, 3000: 19.0, 10000: 22.0}


def _thread_sampler(peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.05):
        peak[0] = max(peak[0], threading.active_count())


def run_scenario(kind: str, branches: int, server: str) -> dict[str, Any]:
    """Runs in the child process: one scenario on a fresh engine and store."""
    from durable.engine import Engine
    from durable.testing import DurableFunctionTestRunner
    from tests.stress.test_batch_stress import _in_flight_at_every_transition, limited, timer_wave

    peak = [threading.active_count()]
    stop = threading.Event()
    threading.Thread(target=_thread_sampler, args=(peak, stop), daemon=True).start()
    figures: dict[str, Any] = {}
    if kind == "testing":
        with scratch_store(server) as url, DurableFunctionTestRunner(
            timer_wave, skip_time=False, invocation_timeout=60, store=None if server == "sqlite" else url
        ) as runner:
            usage = Usage()
            result = runner.run(input={"branches": branches, "keep": IDEAL}, timeout=900)
            figures = {**usage.stop()}
            figures.update(status=result.status.value, invocations=len(result.invocations), transactions=None)
    else:
        with scratch_store(server) as url, Engine(store=url) as engine:
            handler = timer_wave if kind == "engine" else limited
            engine.register(handler.name, handler, invocation_timeout=60)
            usage = Usage()
            payload = {"branches": branches, "keep": IDEAL} if kind == "engine" else None
            eid = engine.start(handler.name, payload)
            record = engine.wait(eid, timeout=900)
            figures = {**usage.stop()}
            figures.update(
                status=record.status.value, invocations=record.invocations, transactions=engine.stats()["transactions"]
            )
            if kind == "limited":
                history = engine.history(eid)
                parent = next(e["Id"] for e in history if e.get("SubType") == "Map")
                figures["peak_in_flight"] = max(_in_flight_at_every_transition(history, parent))
    stop.set()
    figures["threads"] = peak[0]
    return figures


def _summary(label: str, runs: list[dict[str, Any]], resumes: int, target: float | None) -> list[Any]:
    low, mid, high = spread([r["wall_s"] for r in runs])
    cpu = spread([r["cpu_s"] for r in runs])[1]
    invocations = max(r["invocations"] for r in runs)
    transactions = spread([r["transactions"] or 0 for r in runs])[1]
    switches = spread([r["voluntary"] + r["involuntary"] for r in runs])[1]
    met = "" if target is None else ("yes" if mid <= target and invocations == 1 else "no")
    wall = f"{low:.1f}/{mid:.1f}/{high:.1f}"
    if "peak_in_flight" in runs[0]:
        peak = max(r["peak_in_flight"] for r in runs)
        label = f"{label}, peak in flight {peak}"
        # a limited map suspends at every round: its target is the time and the peak, not one invocation
        met = "yes" if target is not None and mid <= target and peak == 5 else "no"
        wall = f"{low:.2f}/{mid:.2f}/{high:.2f}"
    return [
        label, ",".join(sorted({r["status"] for r in runs})), wall, cpu,
        cpu / resumes * 1e6 if resumes else "", switches, invocations, transactions or "",
        f"{max(r['rss_mb'] for r in runs):.0f}", max(r["threads"] for r in runs),
        f"<= {target} s" if target else "", met,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, nargs="*", default=[300, 1000, 3000, 10000, 30000],
                        help="wave sizes (none: only the max_concurrency scenario)")
    parser.add_argument("--modes", nargs="+", default=["engine", "testing"], choices=["engine", "testing"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help="sqlite (default) or a PostgreSQL server URL (each run uses a fresh schema there)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_scenario(args.child[0], int(args.child[1]), args.child[2])))
        return
    on = "" if args.store == "sqlite" else ", postgresql"
    rows = []
    for branches in args.branches:
        for mode in args.modes:
            child = (mode, str(branches), args.store)
            runs = [in_fresh_process("benchmarks.timer_wave", *child) for _ in range(args.runs)]
            rows.append(_summary(f"wave {branches}+1 ({mode}{on})", runs, POLLS * branches, TARGETS.get(branches)))
            print_table(HEADER, rows[-1:])
    if not args.skip_limited:
        runs = [in_fresh_process("benchmarks.timer_wave", "limited", "100", args.store) for _ in range(args.runs)]
        rows.append(_summary("100 x mc=5 x 1 s (engine)", runs, 0, 20.3))
    print()
    print_table(HEADER, rows)


HEADER = [
    "scenario", "status", "wall s min/med/max", "cpu s", "cpu µs/resume", "ctx switches", "invocations",
    "transactions", "peak RSS MB", "peak threads", "target", "met",
]


if __name__ == "__main__":
    with host_noted():
        main()
