"""Executions kept in memory for the runner's life (`memory://`); readable here after the runner closed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from durable.stores.base import Store
from durable.testing.stores.base import StoredExecutions


class InMemoryExecutionStore(StoredExecutions):
    def __init__(self) -> None:
        self._store: Store | None = None

    @property
    def store_url(self) -> str:
        return "memory://"

    def attach(self, store: Store) -> None:
        """The runner hands over the memory store it opened for this object (the latest runner's counts)."""
        self._store = store

    @contextmanager
    def _reading(self) -> Iterator[Store | None]:
        yield self._store
