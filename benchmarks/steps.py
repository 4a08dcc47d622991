"""Sequential step throughput: one execution of N trivial steps on SQLite (WAL) or PostgreSQL.

Targets: at least 3,000 steps/s and at most 3 context switches per step on
SQLite; at least 2,000 steps/s on PostgreSQL (`--store postgresql://...`).
Each run is a fresh process; the figures are its own, from the start of the
execution to its end: wall time, CPU seconds of every thread, and voluntary
and involuntary context switches per step.  Each step checkpoints its start
without waiting and its success with a wait for the commit; group commit
lets both share one transaction.
`python -m benchmarks.steps [--steps 5000] [--runs 3] [--store sqlite|postgresql://user@host:port/db]`
(add `?synchronous_commit=off` to a PostgreSQL URL to measure commits acknowledged before they reach disk).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.common import (
    DEFAULT_STORE,
    Usage,
    constant,
    fresh_engine,
    in_fresh_process,
    postgres_cpu_seconds,
    print_table,
    spread,
)
from benchmarks.host import host_noted
from durable import DurableContext, durable_execution

#: store -> (steps/s at least, switches per step at most)
TARGETS = {"sqlite": (3000.0, 3.0), "postgresql": (2000.0, float("inf"))}


@durable_execution
def sequential_steps(count: int, context: DurableContext) -> int:
    for i in range(count):
        context.step(constant(i), name="s")
    return count


def run_once(steps: int, server: str) -> dict[str, Any]:
    with fresh_engine(server=server) as engine:
        engine.register(sequential_steps)
        before = engine.stats()["transactions"]
        on_server = server != "sqlite"
        server_before = postgres_cpu_seconds() if on_server else 0.0
        usage = Usage()
        execution_id = engine.start("sequential_steps", steps)
        record = engine.wait(execution_id, timeout=600)
        figures = usage.stop()
        figures["server_cpu_s"] = postgres_cpu_seconds() - server_before if on_server else 0.0
        assert record.status.value == "SUCCEEDED", record
        figures["transactions"] = engine.stats()["transactions"] - before
        return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help="sqlite (default) or a PostgreSQL server URL (each run uses a fresh schema there)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_once(int(args.child[0]), args.child[1])))
        return
    runs = [in_fresh_process("benchmarks.steps", str(args.steps), args.store) for _ in range(args.runs)]
    kind = "sqlite" if args.store == "sqlite" else "postgresql"
    target = TARGETS[kind]
    label = kind if "synchronous_commit=off" not in args.store else f"{kind}, synchronous_commit=off"
    rows: list[list[Any]] = []
    for n, r in enumerate(runs, 1):
        rows.append(_row(f"run {n} ({label})", args.steps, r, target))
    medians = {key: spread([float(r[key]) for r in runs])[1] for key in runs[0]}
    rows.append(_row(f"median of {args.runs} ({label})", args.steps, medians, target))
    rate, switches = target
    print_table(
        ["sequential steps", "steps", "wall s", "steps/s", "cpu s", "cpu µs/step", "switches/step",
         "vol", "invol", "transactions", "server cpu µs/step", f"met (>={rate:.0f}/s, <={switches} sw)"],
        rows,
    )


def _row(label: str, steps: int, r: dict[str, Any], target: tuple[float, float]) -> list[Any]:
    rate = steps / r["wall_s"]
    switches = (r["voluntary"] + r["involuntary"]) / steps
    met = "yes" if rate >= target[0] and switches <= target[1] else "no"
    return [label, steps, r["wall_s"], rate, r["cpu_s"], r["cpu_s"] / steps * 1e6, switches,
            int(r["voluntary"]), int(r["involuntary"]), int(r["transactions"]),
            r["server_cpu_s"] / steps * 1e6 if r["server_cpu_s"] else "", met]


if __name__ == "__main__":
    with host_noted():
        main()
