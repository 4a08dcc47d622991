"""The functions an engine can run, by name."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from durable.exceptions import ValidationError
from durable.execution import DurableHandler, as_durable_handler
from durable.limits import check_name, check_seconds

DEFAULT_INVOCATION_TIMEOUT = 900.0


@attrs.frozen(slots=True)
class RegisteredFunction:
    name: str
    handler: DurableHandler[Any] | Callable[..., Any]
    invocation_timeout: float = DEFAULT_INVOCATION_TIMEOUT


class FunctionRegistry:
    """The functions an engine may run: only what its owner registered.

    A name that arrives with a request (an HTTP start, a `context.invoke`) is
    looked up here and never imported: whoever can start executions must not
    be able to run any importable callable (`shutil:rmtree`).  Written while
    the engine is set up, read by workers afterwards.
    """

    def __init__(self) -> None:
        self._functions: dict[str, RegisteredFunction] = {}

    def register(
        self,
        name: str,
        handler: DurableHandler[Any] | Callable[..., Any],
        invocation_timeout: float | None = None,
    ) -> RegisteredFunction:
        check_name(name, "a function name")
        if not callable(handler):
            raise ValidationError(f"function {name!r} is not callable")
        timeout = DEFAULT_INVOCATION_TIMEOUT if invocation_timeout is None else check_seconds(
            invocation_timeout, f"invocation_timeout of {name!r}"
        )
        entry = RegisteredFunction(name, as_durable_handler(handler) or handler, timeout)
        self._functions[name] = entry
        return entry

    def get(self, name: str) -> RegisteredFunction | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)


def resolve_function_spec(spec: str) -> Any:
    """Import `package.module:attribute` (or `path/to/file.py:attribute`) and return the attribute."""
    module_part, sep, attribute = spec.partition(":")
    if not sep or not module_part or not attribute:
        raise ValidationError(f"{spec!r} is not MODULE:FUNCTION (for example examples.hello:handler)")
    module = _import(module_part)
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValidationError(f"module {module_part!r} has no function {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValidationError(f"{spec!r} is not callable")
    return target


def resolve_function_source(source: str) -> list[tuple[str, Any]]:
    """What an operator names: `module:function` (that function and the durable handlers beside it) or `module`.

    Returns (name, handler) pairs, each named `module:attribute`.  A handler's
    neighbours come along so that `context.invoke` of a function defined in
    the same module works without naming each one.
    """
    module_part, sep, _ = source.strip().partition(":")
    if not module_part:
        raise ValidationError(f"{source!r} names no module (MODULE or MODULE:FUNCTION)")
    named = [(source.strip(), resolve_function_spec(source.strip()))] if sep else []
    if named and as_durable_handler(named[0][1]) is None:
        # an operator's list is served to API clients: a plain callable there (a typo, shutil:rmtree) would
        # be called with whatever input a client sends
        raise ValidationError(f"{source.strip()} is not decorated with @durable_execution")
    beside = [
        (f"{module_part}:{attribute}", value)
        for attribute, value in sorted(vars(_import(module_part)).items())
        if as_durable_handler(value) is not None and f"{module_part}:{attribute}" not in dict(named)
    ]
    if not named and not beside:
        raise ValidationError(f"module {module_part!r} defines no @durable_execution handler")
    return named + beside


def _import(module_part: str) -> Any:
    """A module by name, or a `path/to/file.py`; the current directory is importable, as for `python -m`."""
    module_name = module_part
    if module_part.endswith(".py"):
        path = Path(module_part).resolve()
        if not path.exists():
            raise ValidationError(f"cannot import {module_part!r}: no such file")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        module_name = path.stem
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(module_name)
    except (ImportError, TypeError, ValueError) as error:  # TypeError, ValueError: a relative or empty name
        raise ValidationError(f"cannot import module {module_name!r}: {error}") from error
