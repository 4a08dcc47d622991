"""What every benchmark shares: a fresh store (SQLite in a temporary folder, or a new PostgreSQL schema),
usage figures and a plain table."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from durable.engine import Engine
from durable.types import StepContext

#: `--store` of the benchmarks that take one: the embedded default, or a PostgreSQL server to use a fresh schema in
DEFAULT_STORE = "sqlite"


@contextmanager
def scratch_store(server: str = DEFAULT_STORE) -> Iterator[str]:
    """A store URL nobody else uses: a SQLite file in a temporary folder, or a new schema on `server`, dropped after."""
    if server == "sqlite":
        with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import uuid

    import psycopg

    from durable.stores.postgresql import split_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{server}{'&' if '?' in server else '?'}schema={schema}"
    finally:
        with psycopg.connect(split_url(server).conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextmanager
def fresh_engine(workers: int = 4, server: str = DEFAULT_STORE) -> Iterator[Engine]:
    with scratch_store(server) as url, Engine(store=url, workers=workers) as engine:
        yield engine


def constant(value: int) -> Callable[[StepContext], int]:
    """A trivial step function returning `value`."""
    return lambda _: value


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [list(map(str, header))] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


class Usage:
    """CPU seconds (user + system, every thread) and context switches of this process between start and stop.

    Figures that cannot flatter: wall time alone hides CPU spent on other
    threads, and a design that hands work between threads pays in switches.
    """

    def __init__(self) -> None:
        self._before = resource.getrusage(resource.RUSAGE_SELF)
        self._began = time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall_s": time.perf_counter() - self._began,
            "cpu_s": (after.ru_utime - self._before.ru_utime) + (after.ru_stime - self._before.ru_stime),
            "voluntary": after.ru_nvcsw - self._before.ru_nvcsw,
            "involuntary": after.ru_nivcsw - self._before.ru_nivcsw,
            "rss_mb": after.ru_maxrss / 1024,
        }


def postgres_cpu_seconds() -> float:
    """CPU seconds (user + system) so far of every live process named postgres: the server's side of a run."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.partition(") ")
        if name.endswith("(postgres"):
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def in_fresh_process(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module --child args...` and return the JSON object it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    return min(values), statistics.median(values), max(values)
