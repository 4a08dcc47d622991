"""`context.logger`: the standard library's `logging`, with the execution's fields, silent during replay.

As in the AWS SDK: a `Logger` wraps any logger with the stdlib call shape
(the root logger by default), adds `executionArn`, `parentId`,
`operationName`, `attempt` and `operationId` as `extra` fields, and drops
records while its context replays operations that already logged on an
earlier invocation.  The decision is made per call, so a logger bound in a
child context stays right as the replay catches up with new work.  (The
runtime's own logs go through loguru; these are the user's.)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from durable.core.every_level import every_level_handlers
from durable.identifier import OperationIdentifier
from durable.types import LoggerInterface


def _never() -> bool:
    return False


@dataclasses.dataclass(frozen=True)
class LogInfo:
    """What a log record says about where it comes from. `execution_state` has a `durable_execution_arn`."""

    execution_state: Any
    parent_id: str | None = None
    operation_id: str | None = None
    name: str | None = None
    attempt: int | None = None

    @classmethod
    def from_operation_identifier(
        cls, execution_state: Any, op_id: OperationIdentifier, attempt: int | None = None
    ) -> LogInfo:
        return cls(execution_state, op_id.parent_id, op_id.operation_id, op_id.name, attempt)

    def with_parent_id(self, parent_id: str) -> LogInfo:
        return dataclasses.replace(self, parent_id=parent_id)


class Logger(LoggerInterface):
    def __init__(
        self,
        logger: LoggerInterface,
        default_extra: Mapping[str, object],
        is_replaying: Callable[[], bool] = _never,
    ) -> None:
        self._logger = logger
        self._default_extra = default_extra
        self._is_replaying = is_replaying

    @classmethod
    def from_log_info(
        cls, logger: LoggerInterface, info: LogInfo, is_replaying: Callable[[], bool] = _never
    ) -> Logger:
        extra: dict[str, object] = {"executionArn": info.execution_state.durable_execution_arn}
        if info.parent_id:
            extra["parentId"] = info.parent_id
        if info.name:
            extra["operationName"] = info.name
        if info.attempt is not None:
            extra["attempt"] = info.attempt
        if info.operation_id:
            extra["operationId"] = info.operation_id
        return cls(logger, extra, is_replaying)

    def with_log_info(self, info: LogInfo) -> Logger:
        return Logger.from_log_info(self._logger, info, self._is_replaying)

    def with_is_replaying(self, is_replaying: Callable[[], bool]) -> Logger:
        return Logger(self._logger, self._default_extra, is_replaying)

    def get_logger(self) -> LoggerInterface:
        return self._logger

    def debug(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._log(logging.DEBUG, self._logger.debug, msg, *args, extra=extra)

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._log(logging.INFO, self._logger.info, msg, *args, extra=extra)

    def warning(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._log(logging.WARNING, self._logger.warning, msg, *args, extra=extra)

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._log(logging.ERROR, self._logger.error, msg, *args, extra=extra)

    def exception(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._log(logging.ERROR, self._logger.exception, msg, *args, extra=extra)

    def _log(
        self, level: int, log: Callable[..., Any], msg: object, *args: object,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        if self._is_replaying():
            return
        target = self._logger
        if not isinstance(target, logging.Logger):
            log(msg, *args, extra={**self._default_extra, **(extra or {})})
        elif target.isEnabledFor(level):
            log(msg, *args, extra={**self._default_extra, **(extra or {})}, stacklevel=3)
        elif hearers := every_level_handlers(target):
            fields = {**self._default_extra, **(extra or {})}
            record = target.makeRecord(target.name, level, "(unknown file)", 0, msg, args, None, extra=fields)
            for handler in hearers:
                handler.handle(record)


def root_logger() -> LoggerInterface:
    """The logger a context starts with: the standard library's root logger, as in the SDK."""
    return logging.getLogger()
