"""Where all runtime code reads time.

`now()` is the engine's time: what timers (waits, retry delays, polls) are
measured on and history is stamped with.  `wall()` is real time: what
timeouts (an execution's, a callback's, a chained invoke's) are measured on.
`RealClock` has one time for both.  `VirtualClock` is wall time plus an offset
that the alarm manager pushes forward over a timer's wait while nothing runs,
so a one-hour wait in a test completes in milliseconds, while a callback that
times out after two seconds still does so two real seconds later, as with the
AWS testing library.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, on the engine's time."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch, real time."""
        ...


def skew(clock: Clock) -> float:
    """How far the engine's time is ahead of real time (0 on a real clock)."""
    if type(clock) is RealClock:
        return 0.0
    return clock.now() - clock.wall()


class RealClock:
    def now(self) -> float:
        return time.time()

    def wall(self) -> float:
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

    def wall(self) -> float:
        return time.time()

    def advance_to(self, when: float) -> None:
        gap = when - self.now()
        if gap > 0:
            self._offset += gap
