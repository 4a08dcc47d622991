"""The service side: the engine that runs durable executions, and what it is built from.

`Engine` is imported lazily: the pure modules here (history, transitions)
are used by the actors, which the engine itself is built from.
"""

from typing import Any

__all__ = ["Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from durable.engine.engine import Engine

        return Engine
    raise AttributeError(name)
