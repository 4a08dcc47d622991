"""Answering a waiting thread without ever raising into the answering actor; the light `Answer` it waits on."""

from __future__ import annotations

import queue
import sys
from typing import Any

from actors.messages import Reply


def resolve(reply_to: Reply, value: Any) -> None:
    if reply_to is not None:
        reply_to.set(value)


def reject(reply_to: Reply, error: BaseException) -> None:
    if reply_to is not None:
        reply_to.set_exception((type(error), error, error.__traceback__))


class Answer:
    """A one-shot answer a handler thread waits on, for the hot paths (lookups, checkpoints).

    It does what a pykka future does for a single `get`, on a C-level
    SimpleQueue: no Condition to build per request and a cheap wake-up,
    which matters when a wave of thousands of branches asks at once.
    """

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

    def set(self, value: Any = None) -> None:
        self._queue.put((True, value))

    def set_exception(self, exc_info: Any = None) -> None:
        error = exc_info[1] if isinstance(exc_info, tuple) else exc_info or sys.exc_info()[1]
        self._queue.put((False, error))

    def get(self) -> Any:
        ok, value = self._queue.get()
        if not ok:
            raise value
        return value
