"""Executions kept under a folder: here, one SQLite file of this runtime's schema inside it."""

from __future__ import annotations

from pathlib import Path


class FileSystemExecutionStore:
    def __init__(self, storage_dir: Path) -> None:
        self.storage_dir = Path(storage_dir)

    @classmethod
    def create(cls, storage_dir: str | Path | None = None) -> FileSystemExecutionStore:
        """A store in `storage_dir` (default `.durable_executions`), made if missing."""
        path = Path(storage_dir) if storage_dir else Path(".durable_executions")
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.storage_dir / 'durable-executions.db'}"
