"""The functions an engine can run, by name."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
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
        """The function registered under `name`; a `module:attribute` name is imported on first use."""
        entry = self._functions.get(name)
        if entry is None and ":" in name:
            try:
                entry = self.register(name, resolve_function_spec(name))
            except ValidationError:
                return None
        return entry

    def names(self) -> list[str]:
        return sorted(self._functions)


def resolve_function_spec(spec: str) -> Any:
    """Import `package.module:attribute` (or `path/to/file.py:attribute`) and return the attribute."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValidationError(f"{spec!r} is not MODULE:FUNCTION (for example examples.hello:handler)")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.exists():
            raise ValidationError(f"cannot import {spec!r}: no file {module_name}")
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValidationError(f"cannot import module {module_name!r} for {spec!r}: {error}") from error
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValidationError(f"module {module_name!r} has no function {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValidationError(f"{spec!r} is not callable")
    return target
