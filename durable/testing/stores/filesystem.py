"""Executions kept under a folder: here, one SQLite file of this runtime's schema inside it."""

from __future__ import annotations

from pathlib import Path

from durable.testing.stores.base import StoredExecutions

#: the one SQLite file of this runtime's schema the folder holds
DATABASE_NAME = "durable-executions.db"


class FileSystemExecutionStore(StoredExecutions):
    def __init__(self, storage_dir: Path) -> None:
        self.storage_dir = Path(storage_dir)

    @classmethod
    def create(cls, storage_dir: str | Path | None = None) -> FileSystemExecutionStore:
        """A store in `storage_dir` (default `.durable_executions`), made if missing."""
        path = Path(storage_dir) if storage_dir else Path(".durable_executions")
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def _database(self) -> Path:
        return self.storage_dir / DATABASE_NAME
