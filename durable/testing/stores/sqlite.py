"""Executions in a SQLite file (this runtime's schema)."""

from __future__ import annotations

from pathlib import Path

from durable.testing.stores.base import StoredExecutions


class SQLiteExecutionStore(StoredExecutions):
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)

    @classmethod
    def create_and_initialize(cls, db_path: Path | str | None = None) -> SQLiteExecutionStore:
        """A store at `db_path` (default `durable-executions.db`), its folder made if missing."""
        path = Path(db_path) if db_path else Path("durable-executions.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def _database(self) -> Path:
        return self.db_path
