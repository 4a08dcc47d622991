"""`context.logger`: loguru underneath, silent while the handler replays.

A replayed operation already logged on the invocation that ran it; logging
again would double every line after each suspension.  The decision is made per
call from the invocation's replay flag, so a logger bound in a child context
stays correct as the replay catches up with new work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger as _loguru

LOG_EXTRA_KEY = "durable_execution_arn"


class DurableLogger:
    """A LoggerInterface bound to one execution (and operation), replay-aware."""

    def __init__(
        self,
        execution_arn: str,
        is_replaying: Callable[[], bool],
        log_during_replay: bool = False,
        **extra: Any,
    ) -> None:
        self._is_replaying = is_replaying
        self.log_during_replay = log_during_replay
        self._extra = {LOG_EXTRA_KEY: execution_arn, **extra}
        self._bound: Any = None

    def bind(self, **extra: Any) -> DurableLogger:
        merged = {k: v for k, v in self._extra.items() if k != LOG_EXTRA_KEY}
        merged.update(extra)
        return DurableLogger(
            self._extra[LOG_EXTRA_KEY], self._is_replaying, self.log_during_replay, **merged
        )

    def with_replay_logging(self, enabled: bool) -> DurableLogger:
        copy = self.bind()
        copy.log_during_replay = enabled
        return copy

    def _emit(self, level: str, message: str, args: Any, kwargs: Any, exception: bool = False) -> None:
        if self._is_replaying() and not self.log_during_replay:
            return
        if self._bound is None:  # bound on first use: most contexts (a map's branches, say) never log
            self._bound = _loguru.bind(**self._extra)
        self._bound.opt(depth=2, exception=exception).log(level, message, *args, **kwargs)

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("DEBUG", message, args, kwargs)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("INFO", message, args, kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("WARNING", message, args, kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("ERROR", message, args, kwargs)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("ERROR", message, args, kwargs, exception=True)
