"""Where all runtime code reads time.

`RealClock` is wall time.  `VirtualClock` is wall time plus an offset that the
alarm manager may push forward to the next due alarm while nothing runs, so a
one-hour wait in a test completes in milliseconds (`skip_time`).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Wall time that can jump forward, never back.

    The offset has one writer, the alarm manager actor; readers see either the
    old or the new float, both valid times.
    """

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance_to(self, when: float) -> None:
        gap = when - self.now()
        if gap > 0:
            self._offset += gap
