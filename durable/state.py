"""The SDK's `state` module names that user code can meet: `ReplayStatus`.

The SDK keeps an execution's operations and its checkpoint batching in an
`ExecutionState` object inside the handler's process.  Here that state is
the ExecutionState actor's (`actors/execution_state.py`), reached by
messages, so this module offers only the value users see on a context.
"""

from __future__ import annotations

import enum

__all__ = ["ReplayStatus"]


class ReplayStatus(enum.Enum):
    """Whether a context is re-reading checkpoints (REPLAY) or running operations for the first time (NEW)."""

    REPLAY = "replay"
    NEW = "new"
