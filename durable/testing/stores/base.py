"""The kinds of store, and what every store class gives: the URL of the store the runner keeps its
executions in, and the testing library's reads of them (`load`, `list_all`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Protocol

from durable.stores import open_store
from durable.stores.base import Store
from durable.testing.exceptions import ResourceNotFoundException
from durable.testing.execution import Execution, read_execution, read_executions


class StoreType(Enum):
    MEMORY = "memory"
    FILESYSTEM = "filesystem"
    SQLITE = "sqlite"


class ExecutionStore(Protocol):
    @property
    def store_url(self) -> str: ...

    def load(self, execution_arn: str) -> Execution: ...

    def list_all(self) -> list[Execution]: ...


class StoredExecutions:
    """`load` and `list_all` over the store a runner wrote (read-only: the runner is its one writer).

    A store in a file names it (`_database`); the runner keeps this runtime's SQLite schema there.
    """

    def _database(self) -> Path:
        raise NotImplementedError

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self._database()}"

    @contextmanager
    def _reading(self) -> Iterator[Store | None]:
        """The store to read, or None when nothing was written yet."""
        if not self._database().exists():
            yield None
            return
        store = open_store(self.store_url)
        try:
            yield store
        finally:
            store.close()

    def load(self, execution_arn: str) -> Execution:
        with self._reading() as store:
            found = read_execution(store, execution_arn) if store is not None else None
        if found is None:
            raise ResourceNotFoundException(f"Execution {execution_arn} not found")
        return found

    def list_all(self) -> list[Execution]:
        with self._reading() as store:
            return read_executions(store) if store is not None else []
