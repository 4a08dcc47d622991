"""A keyed min-heap of due times: the data behind every timer actor.

Setting a key again replaces its due time; stale heap entries are skipped
when popped (lazy deletion), so set, remove and pop are all O(log n).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class DueQueue(Generic[K]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: K) -> bool:
        return key in self._due

    def get(self, key: K) -> float | None:
        return self._due.get(key)

    def set(self, key: K, due: float) -> None:
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))

    def remove(self, key: K) -> None:
        self._due.pop(key, None)

    def earliest(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def in_order(self) -> list[tuple[K, float]]:
        """Every key and its due time, earliest first (a sort: for rare scans, not the hot path)."""
        return sorted(self._due.items(), key=lambda item: item[1])

    def pop_due(self, now: float) -> list[tuple[K, float]]:
        """Every key due at `now`, earliest first, removed from the queue."""
        fired: list[tuple[K, float]] = []
        while self._heap:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            due, _, key = heapq.heappop(self._heap)
            del self._due[key]
            fired.append((key, due))
        return fired

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
