"""Where the test runner keeps its executions, named as in the testing library (`store=` of the runners).

Each class only says where: the runner runs on this runtime's own stores
(`durable.stores`), so a file written here is this runtime's SQLite
database, not the testing library's format.
"""

from durable.testing.stores.base import ExecutionStore, StoreType
from durable.testing.stores.filesystem import FileSystemExecutionStore
from durable.testing.stores.memory import InMemoryExecutionStore
from durable.testing.stores.sqlite import SQLiteExecutionStore

__all__ = ["ExecutionStore", "FileSystemExecutionStore", "InMemoryExecutionStore", "SQLiteExecutionStore", "StoreType"]
