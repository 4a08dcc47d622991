"""The engine facade: `Engine` wires the actors to a store and runs durable executions."""

from durable.engine.engine import Engine

__all__ = ["Engine"]
