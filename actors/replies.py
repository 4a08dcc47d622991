"""Answering a waiting thread's future without ever raising into the answering actor."""

from __future__ import annotations

import sys
from typing import Any

from actors.messages import Reply


def resolve(reply_to: Reply, value: Any) -> None:
    if reply_to is not None:
        reply_to.set(value)


def reject(reply_to: Reply, error: BaseException) -> None:
    if reply_to is not None:
        reply_to.set_exception((type(error), error, error.__traceback__))


def reject_current(reply_to: Reply) -> None:
    """Reject with the exception being handled."""
    if reply_to is not None:
        reply_to.set_exception(sys.exc_info())
