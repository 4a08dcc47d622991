"""How long users' AWS SDK test suite takes here: `tests/sdk_examples` in fresh pytest processes.

Each run is a new interpreter (imports, engine start-up and all), measured
from outside: wall time, CPU seconds (user + system) and context switches of
the child, from `getrusage`.  Prints one row per run and the medians.
`python -m benchmarks.sdk_suite [runs]` (default 3).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import median, print_table
from benchmarks.host import host_noted

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> tuple[float, float, int, int, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sdk_examples", "-W", "ignore"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    voluntary = after.ru_nvcsw - before.ru_nvcsw
    involuntary = after.ru_nivcsw - before.ru_nivcsw
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    if done.returncode != 0:
        raise SystemExit(f"the suite failed: {summary}")
    return wall, cpu, voluntary, involuntary, summary


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [one_run() for _ in range(runs)]
    rows: list[list[object]] = [[f"run {n}", *result] for n, result in enumerate(results, 1)]
    medians = [median([float(result[i]) for result in results]) for i in range(4)]
    rows.append(["median", *medians, f"{runs} fresh processes"])
    print_table(["sdk_examples", "wall s", "cpu s", "vol ctx sw", "invol ctx sw", "pytest"], rows)


if __name__ == "__main__":
    with host_noted():
        main()
