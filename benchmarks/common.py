"""What every benchmark shares: a fresh SQLite engine in a temporary directory, and a plain table."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from durable.engine import Engine
from durable.types import StepContext


@contextmanager
def fresh_engine(workers: int = 4) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder, Engine(
        store=f"sqlite:///{Path(folder) / 'bench.db'}", workers=workers
    ) as engine:
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
