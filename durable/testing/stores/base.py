"""The kinds of store, and what every store class gives the runner: the URL of the store it names."""

from __future__ import annotations

from enum import Enum
from typing import Protocol


class StoreType(Enum):
    MEMORY = "memory"
    FILESYSTEM = "filesystem"
    SQLITE = "sqlite"


class ExecutionStore(Protocol):
    @property
    def store_url(self) -> str: ...
