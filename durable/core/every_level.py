"""Handlers that hear log records below their loggers' levels.

A handler says it wants them with a true `hears_every_level` attribute: the
test runner's capture, which keeps every record `context.logger` writes for
`result.logs` without lowering anyone's logging level.  Whoever drops a
record because its logger is not enabled for the level hands it to these.
"""

from __future__ import annotations

import logging


def every_level_handlers(target: logging.Logger) -> list[logging.Handler]:
    """The handlers on `target`'s way to the root (as propagation goes) that hear every level."""
    found: list[logging.Handler] = []
    logger: logging.Logger | None = target
    while logger is not None:
        found.extend(h for h in logger.handlers if getattr(h, "hears_every_level", False))
        logger = logger.parent if logger.propagate else None
    return found
