"""The cyclic garbage collector's young-generation threshold in a process that runs the engine's actors.

Python walks its youngest generation every 700 net allocations of tracked
objects.  A resume allocates a few hundred (a context, records, events,
messages), nearly all freed by reference counting moments later, so at 700
most young passes walk live work in progress, promote it, and the older
passes then walk it again: a tenth of a 10,000-branch wave's CPU went to the
collector.  At 10,000 the young passes are rarer and find less alive, and the
full passes over the whole heap (every waiting branch's records) all but stop.
Garbage that only the collector can free (cycles) waits a little longer.

A process that has tuned its collector keeps its own thresholds: they are
raised only from Python's defaults.
"""

from __future__ import annotations

import gc

PYTHON_DEFAULTS = (700, 10, 10)
#: the youngest generation's threshold an engine sets (the older two keep Python's defaults)
YOUNG_THRESHOLD = 10_000


def raise_young_threshold(young: int | None = YOUNG_THRESHOLD) -> None:
    """Set the youngest generation's threshold to `young` if the process still has Python's defaults
    (None: leave the collector alone)."""
    if young is not None and gc.get_threshold() == PYTHON_DEFAULTS:
        gc.set_threshold(young, *PYTHON_DEFAULTS[1:])
