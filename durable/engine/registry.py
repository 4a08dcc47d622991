"""The functions an engine can run, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from durable.exceptions import ValidationError
from durable.execution import DurableHandler

DEFAULT_INVOCATION_TIMEOUT = 900.0


@attrs.frozen(slots=True)
class RegisteredFunction:
    name: str
    handler: DurableHandler[Any] | Callable[..., Any]
    invocation_timeout: float = DEFAULT_INVOCATION_TIMEOUT


class FunctionRegistry:
    """Written while the engine is set up, read by workers afterwards."""

    def __init__(self) -> None:
        self._functions: dict[str, RegisteredFunction] = {}

    def register(
        self,
        name: str,
        handler: DurableHandler[Any] | Callable[..., Any],
        invocation_timeout: float | None = None,
    ) -> RegisteredFunction:
        if not name:
            raise ValidationError("a function needs a non-empty name")
        if not callable(handler):
            raise ValidationError(f"function {name!r} is not callable")
        timeout = DEFAULT_INVOCATION_TIMEOUT if invocation_timeout is None else float(invocation_timeout)
        if timeout <= 0:
            raise ValidationError(f"invocation_timeout of {name!r} must be positive, got {timeout}")
        entry = RegisteredFunction(name, handler, timeout)
        self._functions[name] = entry
        return entry

    def get(self, name: str) -> RegisteredFunction | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)
