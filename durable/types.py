"""Contexts handed to user callbacks inside operations, and the logger protocol."""

from __future__ import annotations

from typing import Any, Protocol

import attrs


class LoggerInterface(Protocol):
    def debug(self, message: str, *args: Any, **kwargs: Any) -> None: ...
    def info(self, message: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, message: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, message: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, message: str, *args: Any, **kwargs: Any) -> None: ...


@attrs.frozen(slots=True)
class StepContext:
    """What a step function receives: its logger and which attempt this is (1-based)."""

    logger: LoggerInterface
    attempt: int = 1
    operation_id: str = ""


@attrs.frozen(slots=True)
class WaitForConditionCheckContext:
    logger: LoggerInterface
    attempt: int = 1


@attrs.frozen(slots=True)
class WaitForCallbackContext:
    logger: LoggerInterface
